package explore

import (
	"context"
	"net/http"
	"testing"

	"github.com/paragon-cli/paragon/scenarios"
	"github.com/paragon-cli/paragon/scenarios/internal/broken"
)

// variants are the broken servers explore must find. CI tries a few seeds
// of each with a step budget; BenchmarkFindVariants measures 10 seeds
// (docs/performance.md#scenario-explore).
var variants = []struct {
	name        string
	wrap        func(http.Handler, string) http.Handler
	concurrency int
	seeds       uint64 // how many seeds CI tries
}{
	{"two refreshes of one token at once both succeed", broken.RacyRefresh, 2, 3},
	{"grace never ends", broken.GraceNeverEnds, 1, 3},
	{"reuse spares the device family", broken.ReuseSparesDeviceFamily, 1, 3},
	{"a spent device code revives on re-registration", broken.SpentCodeRevives, 1, 3},
	{"an access token outlives its family's revocation", broken.AccessOutlivesRevocation, 1, 3},
	// the variants first written for the built-in suite whose rules the model covers
	{"login without device token", broken.LoginWithoutDeviceToken, 1, 1},
	{"refresh does not rotate", broken.KeepsRefreshToken, 1, 1},
	{"user token not bound to its key", broken.IgnoresKeyBinding, 1, 1},
	{"every device trusted at once", broken.TrustsEveryDevice, 1, 1},
	{"insecure credentials accepted without the switch", broken.AcceptsInsecureLogin, 1, 1},
	{"allow unauthenticated requests cannot be switched on", broken.IgnoresKeyField("allow_unauthenticated"), 1, 1},
	{"automatic endpoint trust cannot be switched on", broken.IgnoresKeyField("auto_trust"), 1, 1},
	{"403 instead of 401 for a bad token", broken.ForbiddenNotUnauthorized, 1, 1},
	{"inactive keys still work", broken.IgnoresKeyField("active"), 1, 1},
	{"allowed IP ranges ignored", broken.IgnoresKeyField("allowed_ips"), 1, 1},
	{"permissions ignored", broken.IgnoresKeyField("permissions"), 1, 1},
	{"no WWW-Authenticate", broken.NoWWWAuthenticate, 1, 1},
	{"key expiry ignored", broken.IgnoresKeyField("expires_at"), 1, 1},
}

func TestExploreFindsBrokenServers(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			seeds := v.seeds
			if raceEnabled || testing.Short() {
				seeds = 1
			}
			for seed := uint64(1); seed <= seeds; seed++ {
				res, err := Explore(context.Background(), Options{Target: embedded(t, v.wrap), Seed: seed, Steps: 30000, Concurrency: v.concurrency})
				if err != nil {
					t.Fatal(err)
				}
				viol := res.Violation
				if viol == nil {
					t.Fatalf("seed %d: no violation in %d operations", seed, res.Ops)
				}
				t.Logf("seed %d: after %d ops, %d replays: step %d of %d (from %d): %s: expected %s, got %s", seed, res.Ops, viol.Replays, viol.Step, len(viol.Walk.Ops), viol.Original, viol.Op, viol.Expected, viol.Got)
				list, want := parseViolation(t, viol)
				if got := replayTries(t, list, v.wrap, v.concurrency, want); got != want {
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
func replay(t testing.TB, list []*scenarios.Scenario, wrap func(http.Handler, string) http.Handler) scenarios.Status {
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

// parseViolation parses the scenario file of a violation, and says how it
// must end against the broken server.
func parseViolation(t testing.TB, viol *Violation) ([]*scenarios.Scenario, scenarios.Status) {
	t.Helper()
	list, err := scenarios.Parse("explore-failure.yaml", viol.Scenario)
	if err != nil {
		t.Fatalf("the scenario file does not validate: %v\n%s", err, viol.Scenario)
	}
	if viol.Warning {
		return list, scenarios.Warning
	}
	return list, scenarios.Failed
}

// replayTries replays a file against a broken variant; a race (concurrency
// > 1) shows only when the requests sent at once overlap, so it gets a few
// tries.
func replayTries(t testing.TB, list []*scenarios.Scenario, wrap func(http.Handler, string) http.Handler, concurrency int, want scenarios.Status) scenarios.Status {
	return tries(concurrency, want, func() scenarios.Status { return replay(t, list, wrap) })
}

// tries runs a replay until it ends as wanted: once, or five times for a
// race.
func tries(concurrency int, want scenarios.Status, replay func() scenarios.Status) scenarios.Status {
	n := 1
	if concurrency > 1 {
		n = 5
	}
	var got scenarios.Status
	for range n {
		if got = replay(); got == want {
			break
		}
	}
	return got
}
