package scenarios

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestAssertionRegistry: every registered assertion is documented in
// docs/scenarios.md's table with its own words, and its example is a valid
// scenario that uses it and passes against the reference server.
func TestAssertionRegistry(t *testing.T) {
	docs, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	var all []*Scenario
	for _, name := range assertionNames() {
		a := assertions[name]
		if a.Doc == "" || a.Example == "" || a.decode == nil {
			t.Errorf("%s: no doc, example or decoder", name)
			continue
		}
		if !strings.Contains(string(docs), "| `"+name) || !strings.Contains(string(docs), "| "+a.Doc+" |") {
			t.Errorf("docs/scenarios.md's table of checks lacks the row of %s: | `%s...` | %s |", name, name, a.Doc)
		}
		src := "name: assertion-" + strings.ReplaceAll(name, "_", "-") + "\nneeds: [admin]\ngiven:\n  key: {allow_unauthenticated: true, allow_untrusted: true}\nsteps:\n" + indent(a.Example)
		list, err := Parse("example of "+name, []byte(src))
		if err != nil {
			t.Errorf("%s: the example does not validate: %v", name, err)
			continue
		}
		used := false
		for _, st := range list[0].Steps {
			if st.Expect == nil {
				continue
			}
			var checks []Check
			for _, f := range append(st.Expect.Headers, st.Expect.JSON...) {
				checks = append(checks, f.Check)
			}
			for _, c := range checks {
				for _, x := range c.Assertions {
					used = used || x.Name == name
				}
			}
		}
		if !used {
			t.Errorf("%s: the example does not use it", name)
		}
		all = append(all, list...)
	}
	rep, err := Run(context.Background(), all, RunOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Scenarios {
		if r.Status != Passed {
			t.Errorf("example %s", describe(r))
		}
	}
}
