package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/scenarios"
)

func TestWriteStep(t *testing.T) {
	s := &scenarios.ScenarioResult{Name: "login-works", File: "a.yaml"}
	st := scenarios.StepResult{
		Name: "login alice", Line: 7, Status: scenarios.Failed, Duration: 3 * time.Millisecond,
		Failures: []scenarios.Failure{{Expectation: "status 200", Expected: "200", Actual: "403"}},
		Exchange: &scenarios.Exchange{
			Request:  "POST http://x/api/v1/login\nX-Api-Key: [redacted]\n\nuserid=alice\n",
			Response: "HTTP 403 Forbidden\n\n{\"error\":\"\x1b[31mred\"}\n",
		},
	}
	var b bytes.Buffer
	WriteStep(&b, s, st)
	want := "* login-works › login alice (a.yaml:7): FAILED in 3ms\n" +
		"*   status 200: expected 200, got 403\n" +
		"> POST http://x/api/v1/login\n> X-Api-Key: [redacted]\n>\n> userid=alice\n" +
		"< HTTP 403 Forbidden\n<\n< {\"error\":\"\\x1b[31mred\"}\n\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// Aside clears the progress line before the verbose text and redraws it
// after, so the two never share a line.
func TestTerminalAside(t *testing.T) {
	var b bytes.Buffer
	term := NewTerminal(&b, TerminalOptions{TTY: true, Width: 80})
	term.Start("embedded", 2)
	term.Started("first")
	term.Aside(func() { b.WriteString("* step\n") })
	out := b.String()
	i := strings.Index(out, "* step\n")
	if i < 0 || !strings.HasSuffix(out[:i], "\r\x1b[2K") || !strings.Contains(out[i:], "first") {
		t.Errorf("output: %q", out)
	}
}
