package explore

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/paragon-cli/paragon/scenarios"
	"github.com/paragon-cli/paragon/server"
)

// embedded starts an in-process reference server, wrapped by wrap if not nil.
func embedded(t testing.TB, wrap func(http.Handler, string) http.Handler) Target {
	t.Helper()
	es, err := scenarios.NewEmbeddedServer(wrap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Close)
	b := scenarios.EmbeddedBaseURL
	return Target{Client: es.Client, BaseURL: b, OAuthURL: b, AdminURL: b, APIKey: scenarios.DemoAPIKey,
		SecondAPIKey: scenarios.EmbeddedSecondAPIKey, AdminToken: es.AdminToken}
}

func TestReferenceServerHasNoViolation(t *testing.T) {
	// The long run is a benchmark (docs/performance.md#scenario-explore).
	steps := 5000
	if testing.Short() || raceEnabled {
		steps = 1500
	}
	for seed := uint64(1); seed <= 3; seed++ {
		conc := 1
		if seed == 3 {
			conc = 4 // refreshes and calls of one family at the same instant
		}
		res, err := Explore(context.Background(), Options{Target: embedded(t, nil), Seed: seed, Steps: steps, Concurrency: conc})
		if err != nil {
			t.Fatal(err)
		}
		if v := res.Violation; v != nil {
			t.Fatalf("seed %d: %s: expected %s, got %s (rule %s)\n%s", seed, v.Op, v.Expected, v.Got, v.Rule, v.Scenario)
		}
		t.Logf("seed %d: %d ops, %d walks, %d states", seed, res.Ops, res.Walks, res.States)
		if seed == 1 {
			// requests wrong whatever the state were sent, and answered as the model says
			for _, want := range []string{"call: 403 invalid_api_key", "login: 403 invalid_api_key", "poll: 401 invalid_client", "poll: 400 unsupported_grant_type", "register: 400 invalid_request", "refresh: 401 invalid_client"} {
				if res.Coverage[want] == 0 {
					t.Errorf("seed 1: never %q", want)
				}
			}
		}
	}
}

// TestSameSeedSameWalks: a sequential exploration is a function of the seed
// and the server's answers.
func TestSameSeedSameWalks(t *testing.T) {
	run := func(seed uint64) map[string]int {
		res, err := Explore(context.Background(), Options{Target: embedded(t, nil), Seed: seed, Steps: 1500})
		if err != nil || res.Violation != nil {
			t.Fatalf("%v %+v", err, res.Violation)
		}
		return res.Coverage
	}
	a, b, c := run(7), run(7), run(8)
	if !maps.Equal(a, b) {
		t.Errorf("seed 7 twice:\n%v\n%v", a, b)
	}
	if maps.Equal(a, c) {
		t.Errorf("seeds 7 and 8 explored alike: %v", a)
	}
}

// TestRealClockServer: against a server without a fake clock the walks do
// not move the clock, and nothing else changes.
func TestRealClockServer(t *testing.T) {
	srv, err := server.New(server.Options{Account: server.DemoAccount(), PasswordCost: bcrypt.MinCost, AdminToken: "adm-real-clock"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	res, err := Explore(context.Background(), Options{Target: Target{Client: hs.Client(), BaseURL: hs.URL, OAuthURL: hs.URL, AdminURL: hs.URL,
		APIKey: scenarios.DemoAPIKey, AdminToken: "adm-real-clock"}, Seed: 4, Steps: 1500})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Violation; v != nil {
		t.Fatalf("%s: expected %s, got %s\n%s", v.Op, v.Expected, v.Got, v.Scenario)
	}
	for k := range res.Coverage {
		if strings.HasPrefix(k, "advance") {
			t.Errorf("the clock moved: %s", k)
		}
	}
}
