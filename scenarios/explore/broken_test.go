package explore

import (
	"context"
	"net/http"
	"testing"

	"github.com/paragon-cli/paragon/scenarios"
	"github.com/paragon-cli/paragon/scenarios/internal/broken"
)

// variants are the broken servers explore must find, with the step budget
// CI gives each seed (docs/performance.md has the 10-seed figures).
var variants = []struct {
	name        string
	wrap        func(http.Handler, string) http.Handler
	concurrency int
}{
	{"two refreshes of one token at once both succeed", broken.RacyRefresh, 2},
	{"grace never ends", broken.GraceNeverEnds, 1},
	{"reuse spares the device family", broken.ReuseSparesDeviceFamily, 1},
	{"a spent device code revives on re-registration", broken.SpentCodeRevives, 1},
	{"an access token outlives its family's revocation", broken.AccessOutlivesRevocation, 1},
}

func TestExploreFindsBrokenServers(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= 3; seed++ {
				res, err := Explore(context.Background(), Options{Target: embedded(t, v.wrap), Seed: seed, Steps: 30000, Concurrency: v.concurrency})
				if err != nil {
					t.Fatal(err)
				}
				viol := res.Violation
				if viol == nil {
					t.Fatalf("seed %d: no violation in %d operations", seed, res.Ops)
				}
				t.Logf("seed %d: after %d ops, %d replays: step %d of %d (from %d): %s: expected %s, got %s", seed, res.Ops, viol.Replays, viol.Step, len(viol.Walk.Ops), viol.Original, viol.Op, viol.Expected, viol.Got)
				if v.concurrency > 1 {
					// A race: the scenario format sends one request at a
					// time, so its file cannot replay it.
					continue
				}
				list, err := scenarios.Parse("explore-failure.yaml", viol.Scenario)
				if err != nil {
					t.Fatalf("the scenario file does not validate: %v\n%s", err, viol.Scenario)
				}
				want := scenarios.Failed
				if viol.Warning {
					want = scenarios.Warning
				}
				if got := replay(t, list, v.wrap); got != want {
					t.Errorf("seed %d: the scenario against the broken server: %s, want %s\n%s", seed, got, want, viol.Scenario)
				}
				if got := replay(t, list, nil); got != scenarios.Passed {
					t.Errorf("seed %d: the scenario against the reference server: %s, want PASSED\n%s", seed, got, viol.Scenario)
				}
			}
		})
	}
}

// replay runs the scenario file on the embedded server wrapped by wrap.
func replay(t *testing.T, list []*scenarios.Scenario, wrap func(http.Handler, string) http.Handler) scenarios.Status {
	t.Helper()
	rep, err := scenarios.Run(context.Background(), list, scenarios.RunOptions{Target: scenarios.Target{Wrap: wrap}})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Scenarios[0]
	if r.Status != scenarios.Passed {
		for _, st := range r.Steps {
			if st.Status != scenarios.Passed && st.Status != scenarios.Skipped {
				t.Logf("%s: %s %v %s", st.Name, st.Status, st.Failures, st.Error)
			}
		}
	}
	return r.Status
}
