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
// scenario passes against the embedded reference server, one at a time and
// four at once, and the report lists them in suite order either way.
func TestBuiltinSuitePassesOnReferenceServer(t *testing.T) {
	list, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, parallel := range []int{1, 4} {
		rep, err := Run(context.Background(), list, RunOptions{Parallel: parallel})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Target != "embedded reference server" || len(rep.Scenarios) != len(list) {
			t.Fatalf("report for %q with %d scenarios", rep.Target, len(rep.Scenarios))
		}
		for i, r := range rep.Scenarios {
			if r.Name != list[i].Name {
				t.Errorf("parallel %d: result %d is %s, want %s", parallel, i, r.Name, list[i].Name)
			}
			if r.Status != Passed {
				t.Errorf("parallel %d: %s", parallel, describe(r))
			}
		}
		t.Logf("parallel %d: %d scenarios in %v", parallel, len(rep.Scenarios), rep.Duration)
	}
}
