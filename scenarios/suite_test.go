package scenarios

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// describe prints a result with its failing step for test messages.
func describe(r ScenarioResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%s)", r.Status, r.Name, r.Reason)
	for _, s := range r.Steps {
		if s.Status == Failed {
			fmt.Fprintf(&b, "\n  step %q: %s", s.Name, s.Error)
			for _, f := range s.Failures {
				fmt.Fprintf(&b, "\n    %s: expected %s, got %s", f.Expectation, f.Expected, f.Actual)
			}
			if s.Exchange != nil {
				fmt.Fprintf(&b, "\n    request:\n%s\n    response:\n%s", s.Exchange.Request, s.Exchange.Response)
			}
		}
	}
	return b.String()
}

// TestBuiltinSuitePassesOnReferenceServer is the main guard: every built-in
// scenario passes (or is skipped for a stated reason) against the embedded
// reference server.
func TestBuiltinSuitePassesOnReferenceServer(t *testing.T) {
	list, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Scenarios {
		if r.Status != Passed {
			t.Errorf("%s", describe(r))
		}
	}
	t.Logf("%d scenarios in %v", len(rep.Scenarios), rep.Duration)
}
