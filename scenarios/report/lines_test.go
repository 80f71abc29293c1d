package report

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/scenarios"
)

// TestFailuresNameTheStepLine: every report names the file and line of the
// failing step, and an unnamed step by its action and main argument.
func TestFailuresNameTheStepLine(t *testing.T) {
	src := `name: lines
needs: [admin]
given:
  key: {allow_unauthenticated: true}
steps:
  - call: GET /version
  - call: GET /version
    expect:
      status: 418
`
	list, err := scenarios.Parse("checks/lines.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := scenarios.Run(context.Background(), list, scenarios.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Scenarios[0]
	if s.Status != scenarios.Failed || s.Line != 1 {
		t.Fatalf("%+v", s)
	}
	last := s.Steps[len(s.Steps)-1]
	if last.Name != "call GET /version" || last.Line != 7 {
		t.Errorf("step %q at line %d, want \"call GET /version\" at 7", last.Name, last.Line)
	}
	const at = "checks/lines.yaml:7"
	outputs := map[string]string{}
	for _, f := range Formats() {
		w, _ := WriterFor(f)
		var b bytes.Buffer
		if err := w.Write(&b, rep); err != nil {
			t.Fatal(err)
		}
		outputs[f] = b.String()
	}
	var term bytes.Buffer
	tm := NewTerminal(&term, TerminalOptions{Spin: time.Millisecond})
	tm.Start(rep.Target, 1)
	tm.Finished(s)
	tm.Finish(rep)
	outputs["terminal"] = term.String()
	for name, out := range outputs {
		if !strings.Contains(out, at) {
			t.Errorf("the %s report does not name %s:\n%s", name, at, out)
		}
	}
	if !strings.Contains(outputs["json"], `"line": 7`) || !strings.Contains(outputs["tap"], "line: 7") {
		t.Errorf("JSON or TAP lack the line field:\n%s\n%s", outputs["json"], outputs["tap"])
	}
}
