package scenarios

import (
	"context"
	"strings"
	"testing"
)

func TestBaselineMarksExpectedFailures(t *testing.T) {
	b, err := ParseBaseline("gaps.txt", strings.NewReader("# known gaps\nfails   # ticket 1\n\npasses\nno-such\n"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := Parse("b.yaml", []byte(`name: fails
steps:
  - http: {url: /nowhere}
---
name: passes
needs: [admin]
given:
  key: {allow_unauthenticated: true}
steps:
  - call: GET /version
---
name: other
steps:
  - http: {url: /nowhere}
`))
	if err != nil {
		t.Fatal(err)
	}
	if u := b.Unknown(list); len(u) != 1 || u[0] != "no-such" {
		t.Errorf("unknown %v", u)
	}
	var seen []bool
	rep, err := Run(context.Background(), list, RunOptions{Baseline: b, OnEvent: func(e Event) {
		if e.Kind == ScenarioFinished {
			seen = append(seen, e.Result.Expected)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Scenarios
	if got[0].Status != Failed || !got[0].Expected || got[0].Reason != "listed in gaps.txt" {
		t.Errorf("listed failure: %+v", got[0])
	}
	if got[1].Status != Passed || !got[1].Expected || got[1].Reason != "" {
		t.Errorf("listed pass: %+v", got[1])
	}
	if got[2].Status != Failed || got[2].Expected {
		t.Errorf("unlisted failure: %+v", got[2])
	}
	if len(seen) != 3 || seen[0] != true || seen[2] != false {
		t.Errorf("events saw Expected %v", seen)
	}
	var none *Baseline
	if none.Lists("fails") || none.Unknown(list) != nil {
		t.Error("a nil baseline lists nothing")
	}
}
