package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// docBlock is a ```sh block of a document and the ```text block that
// follows it, if any.
type docBlock struct {
	line     int // where the sh block starts
	script   []string
	expected []string // nil: output not checked
}

// parseDoc returns the sh blocks of a Markdown document with their expected
// outputs.
func parseDoc(text string) ([]docBlock, error) {
	var blocks []docBlock
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	var cur *[]string
	kind := ""
	lastWasSh := false
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			kind = strings.TrimPrefix(line, "```")
			switch {
			case kind == "sh":
				blocks = append(blocks, docBlock{line: n})
				cur = &blocks[len(blocks)-1].script
			case kind == "text" && lastWasSh:
				b := &blocks[len(blocks)-1]
				b.expected = []string{}
				cur = &b.expected
			default:
				cur = &[]string{}
			}
		case cur != nil && line == "```":
			cur = nil
			lastWasSh = kind == "sh"
		case cur != nil:
			*cur = append(*cur, line)
		case strings.TrimSpace(line) != "":
			lastWasSh = false
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("unterminated code block")
	}
	return blocks, sc.Err()
}

// normalize drops blank lines and trailing white space (curl's \r too).
func normalize(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// lineMatches reports whether got matches want, where "..." in want stands
// for any text on the line.
func lineMatches(want, got string) bool {
	parts := strings.Split(want, "...")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// TestWalkthroughCurl runs docs/walkthrough-curl.md against the real binary:
// every sh block in order in one shell, each output compared with the text
// block after it. It is the "newcomer with curl" walk: register a
// device with an Ed25519 key, approve it, get the device token with signed
// requests, log in as alice, list users, refresh, and each documented error.
func TestWalkthroughCurl(t *testing.T) {
	needTools(t, "bash", "curl", "openssl", "sed", "grep", "tail")
	if out, err := exec.Command("openssl", "version").Output(); err != nil || !strings.HasPrefix(string(out), "OpenSSL 3") {
		t.Skipf("the walkthrough needs OpenSSL 3 (pkeyutl -rawin for Ed25519); found %q", strings.TrimSpace(string(out)))
	}
	doc, err := os.ReadFile("../docs/walkthrough-curl.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseDoc(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 10 {
		t.Fatalf("found only %d sh blocks in the walkthrough", len(blocks))
	}

	tokenBytes := make([]byte, 16)
	rand.Read(tokenBytes)
	adminToken := hex.EncodeToString(tokenBytes)
	srv := startServer(t, "--addr", "127.0.0.1:0", "--fake-clock", "--admin-token", adminToken, "--password-cost", "4")

	// The first block sets BASE and ADMIN_TOKEN for a server on the default
	// port; point them at this one.
	var script strings.Builder
	script.WriteString("set -eu\n")
	replaced := 0
	for i, b := range blocks {
		fmt.Fprintf(&script, "echo '@@@block %d@@@'\n", i)
		for _, l := range b.script {
			if i == 0 && strings.HasPrefix(l, "BASE=") {
				l, replaced = "BASE="+srv.URL, replaced+1
			}
			if i == 0 && strings.HasPrefix(l, "ADMIN_TOKEN=") {
				l, replaced = "ADMIN_TOKEN="+adminToken, replaced+1
			}
			script.WriteString(l + "\n")
		}
	}
	if replaced != 2 {
		t.Fatalf("the first sh block must set BASE= and ADMIN_TOKEN= (found %d of them)", replaced)
	}
	work := t.TempDir()
	checked := runDocScript(t, "docs/walkthrough-curl.md", blocks, script.String(), work, append(testEnv(t), "TMPDIR="+work))
	t.Logf("ran %d shell blocks, checked %d outputs", len(blocks), checked)
	if strings.Contains(srv.stderr.String(), adminToken) {
		t.Error("the server log reveals the admin token")
	}
}

// runDocScript runs script (the sh blocks of doc, each after an
// "echo '@@@block N@@@'" line) with bash in dir and compares each block's
// output with the text block after it; it returns how many it compared.
func runDocScript(t *testing.T, doc string, blocks []docBlock, script, dir string, env []string) int {
	t.Helper()
	scriptFile := filepath.Join(dir, "doc-script.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", scriptFile)
	cmd.Dir = dir
	cmd.Env = env
	out, runErr := cmd.CombinedOutput()

	// Split the output at the block markers.
	outputs := map[int][]string{}
	cur := -1
	for _, l := range strings.Split(string(out), "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "@@@block %d@@@", &n); err == nil && strings.HasSuffix(l, "@@@") {
			cur = n
			outputs[cur] = []string{}
			continue
		}
		if cur >= 0 {
			outputs[cur] = append(outputs[cur], l)
		}
	}
	if runErr != nil {
		t.Errorf("the script of %s failed in the block of line %d: %v\noutput of that block:\n%s",
			doc, blocks[max(cur, 0)].line, runErr, strings.Join(outputs[cur], "\n"))
	}
	checked := 0
	for i, b := range blocks {
		if b.expected == nil {
			continue
		}
		got, ok := outputs[i]
		if !ok {
			t.Errorf("%s: block at line %d did not run", doc, b.line)
			continue
		}
		want, have := normalize(b.expected), normalize(got)
		match := len(want) == len(have)
		for j := 0; match && j < len(want); j++ {
			match = lineMatches(want[j], have[j])
		}
		if !match {
			t.Errorf("%s, block at line %d:\ngot:\n%s\nwant (... matches anything):\n%s",
				doc, b.line, strings.Join(have, "\n"), strings.Join(want, "\n"))
		}
		checked++
	}
	return checked
}

func TestParseDoc(t *testing.T) {
	doc := "intro\n```sh\necho a\n```\n\n```text\na\n```\n```console\n$ x\n```\n```sh\necho b\n```\nprose\n```text\nnot attached\n```\n"
	blocks, err := parseDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || strings.Join(blocks[0].script, ";") != "echo a" || strings.Join(blocks[0].expected, ";") != "a" ||
		strings.Join(blocks[1].script, ";") != "echo b" || blocks[1].expected != nil {
		t.Fatalf("blocks: %+v", blocks)
	}
	if !lineMatches(`{"a":"...","b":1}`, `{"a":"xyz","b":1}`) || lineMatches(`{"a":"...","b":1}`, `{"a":"xyz","b":2}`) {
		t.Error("lineMatches")
	}
}
