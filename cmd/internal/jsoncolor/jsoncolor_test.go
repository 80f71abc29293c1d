package jsoncolor

import (
	"bytes"
	"strings"
	"testing"

	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

func TestWritePlain(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	cs := ios.ColorScheme()
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[true,null,"x",{}],"c":{"d":1.50}}`,
			"{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null,\n    \"x\",\n    {}\n  ],\n  \"c\": {\n    \"d\": 1.50\n  }\n}\n"},
		{`[]`, "[]\n"},
		{`"s" 3`, "\"s\"\n3\n"},
		{`{"k":"é\u003c&"}`, "{\n  \"k\": \"é<&\"\n}\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := Write(&out, strings.NewReader(tt.in), "  ", cs); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if out.String() != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.in, out.String(), tt.want)
		}
	}
}

func TestWriteColour(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	ios.SetTTY(true)
	var out bytes.Buffer
	if err := Write(&out, strings.NewReader(`{"k":"v"}`), "  ", ios.ColorScheme()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[") || !strings.Contains(out.String(), `"k"`) {
		t.Errorf("no colour: %q", out.String())
	}
}

func TestWriteInvalid(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var out bytes.Buffer
	if err := Write(&out, strings.NewReader(`{"k":`), "  ", ios.ColorScheme()); err == nil {
		t.Fatal("want an error")
	}
}
