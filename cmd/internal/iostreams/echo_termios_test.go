//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package iostreams

import (
	"io"
	"strings"
	"testing"
)

func TestReadLineStopsAtNewline(t *testing.T) {
	r := strings.NewReader("s3cret\r\nnext line\n")
	got, err := readLine(r)
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("readLine = %q, %v", got, err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "next line\n" {
		t.Errorf("readLine took more than its line: left %q", rest)
	}
}
