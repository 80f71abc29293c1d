package scenarios

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/scenarios/internal/broken"
	"github.com/paragon-cli/paragon/server"
	"golang.org/x/crypto/bcrypt"
)

func builtin(t *testing.T) []*Scenario {
	t.Helper()
	list, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func names(list []*Scenario) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.Name
	}
	return out
}

func TestSelect(t *testing.T) {
	list := builtin(t)
	got := Select(list, Selection{Tags: []string{"signatures"}})
	if len(got) == 0 {
		t.Fatal("no scenario tagged signatures")
	}
	for _, s := range got {
		if !slices.Contains(s.Tags, "signatures") {
			t.Errorf("%s selected without the tag", s.Name)
		}
	}
	got = Select(list, Selection{Names: []string{"refresh-grace-*", "login-with-get"}})
	if want := []string{"login-with-get", "refresh-grace-period", "refresh-grace-period-over"}; !slices.Equal(names(got), want) {
		t.Errorf("names: %q", names(got))
	}
	// shards: disjoint, together everything, the same on every call, balanced
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		shard := Select(list, Selection{ShardIndex: i, ShardCount: 3})
		if again := Select(list, Selection{ShardIndex: i, ShardCount: 3}); !slices.Equal(names(shard), names(again)) {
			t.Errorf("shard %d is not deterministic", i)
		}
		if n := len(shard); n < len(list)/3 || n > len(list)/3+1 {
			t.Errorf("shard %d has %d of %d", i, n, len(list))
		}
		for _, s := range shard {
			seen[s.Name]++
		}
	}
	for _, s := range list {
		if seen[s.Name] != 1 {
			t.Errorf("%s is in %d shards", s.Name, seen[s.Name])
		}
	}
	if got := Select(list, Selection{Tags: []string{"keys"}, ShardIndex: 2, ShardCount: 2}); len(got) == 0 || len(got) > len(Select(list, Selection{Tags: []string{"keys"}})) {
		t.Errorf("tag and shard: %d", len(got))
	}
}

func TestEvents(t *testing.T) {
	list := Select(builtin(t), Selection{Tags: []string{"refresh"}})
	var started, finished, steps int
	inCall := false
	rep, err := Run(context.Background(), list, RunOptions{Parallel: 3, OnEvent: func(e Event) {
		if inCall {
			t.Error("OnEvent called concurrently")
		}
		inCall = true
		defer func() { inCall = false }()
		if e.Total != len(list) || e.Scenario != list[e.Index] {
			t.Errorf("event %+v", e)
		}
		switch e.Kind {
		case ScenarioStarted:
			started++
		case StepFinished:
			steps++
			if e.Step == nil {
				t.Error("step event without a step")
			}
		case ScenarioFinished:
			finished++
			if e.Result == nil || e.Result.Name != e.Scenario.Name {
				t.Errorf("finished event %+v", e)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range rep.Scenarios {
		want += len(r.Steps)
	}
	if started != len(list) || finished != len(list) || steps != want {
		t.Errorf("started %d finished %d steps %d (want %d, %d)", started, finished, steps, len(list), want)
	}
}

func TestFailFastSkipsTheRest(t *testing.T) {
	list := builtin(t)
	rep, err := Run(context.Background(), list, RunOptions{Parallel: 1, FailFast: true, Target: Target{Wrap: broken.LoginWithoutDeviceToken}})
	if err != nil {
		t.Fatal(err)
	}
	first := -1
	for i, r := range rep.Scenarios {
		if r.Status == Failed {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatal("nothing failed")
	}
	for _, r := range rep.Scenarios[first+1:] {
		if r.Status != Skipped || r.Reason != "fail-fast" {
			t.Fatalf("%s after the first failure: %s %q", r.Name, r.Status, r.Reason)
		}
	}
}

// startServer runs a reference server as an outside target would be.
func startServer(t *testing.T, fake bool) (*httptest.Server, string) {
	t.Helper()
	s, err := server.New(server.Options{FakeClock: fake, PasswordCost: bcrypt.MinCost, AdminToken: "outside-admin-token"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		_ = s.Close()
	})
	return srv, "outside-admin-token"
}

func TestOutsideTarget(t *testing.T) {
	list := builtin(t)
	srv, tok := startServer(t, true)
	rep, err := Run(context.Background(), list, RunOptions{Parallel: 2, Target: Target{
		BaseURL: srv.URL + "/api/v1/", AdminURL: srv.URL + "/admin", AdminToken: tok,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Target != srv.URL {
		t.Errorf("target %q", rep.Target)
	}
	for _, r := range rep.Scenarios {
		switch {
		case slices.Contains(list[indexOf(list, r.Name)].Needs, NeedSecondKey):
			if r.Status != Skipped || r.Reason != "needs second-key: no second API key given (add --second-api-key KEY)" {
				t.Errorf("%s: %s %q", r.Name, r.Status, r.Reason)
			}
		case r.Status != Passed:
			t.Errorf("%s", describe(r))
		}
	}
}

// An outside server whose keys have other names than the scenarios' default
// and second: given and key steps change the keys the run uses.
func TestOutsideTargetKeyNames(t *testing.T) {
	acct := server.DemoAccount()
	acct.Keys[0].Name = "main"
	acct.Keys = append(acct.Keys,
		server.Key{Name: "default", Value: "a-key-the-run-does-not-use", Type: "general", Active: true},
		server.Key{Name: "backup", Value: "backup-key-value", Type: "general", Active: true})
	s, err := server.New(server.Options{Account: acct, FakeClock: true, PasswordCost: bcrypt.MinCost, AdminToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		_ = s.Close()
	})
	list := Select(builtin(t), Selection{Names: []string{"^key-user-token-bound-to-key$", "^key-inactive-refused$", "^untrusted-on-login-without-device$", "^refresh-user-token-bound-to-key$"}})
	if len(list) != 4 {
		t.Fatalf("%d scenarios", len(list))
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{
		BaseURL: srv.URL, APIKey: server.DemoKeyValue, SecondAPIKey: "backup-key-value", AdminURL: srv.URL, AdminToken: "tok",
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Scenarios {
		if r.Status != Passed {
			t.Errorf("%s", describe(r))
		}
	}
}

func indexOf(list []*Scenario, name string) int {
	for i, s := range list {
		if s.Name == name {
			return i
		}
	}
	return -1
}

func TestOutsideTargetWithoutAdminOrClock(t *testing.T) {
	list := builtin(t)
	srv, tok := startServer(t, false)
	for _, c := range []struct {
		name   string
		target Target
		reason map[string]string
	}{
		{"no admin", Target{BaseURL: srv.URL}, map[string]string{
			NeedAdmin: "needs admin: no --admin-url given (add --admin-url URL --admin-token TOKEN)", NeedClock: "needs admin: no --admin-url given (add --admin-url URL --admin-token TOKEN)"}},
		{"real clock", Target{BaseURL: srv.URL, OAuthURL: srv.URL, AdminURL: srv.URL, AdminToken: tok}, map[string]string{
			NeedClock: "needs clock: the server's clock is not fake (start it with --fake-clock)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Run(context.Background(), list, RunOptions{Parallel: 2, Target: c.target})
			if err != nil {
				t.Fatal(err)
			}
			passed := 0
			for i, r := range rep.Scenarios {
				missing := ""
				for _, need := range list[i].Needs {
					if c.reason[need] != "" && missing == "" {
						missing = c.reason[need]
					}
				}
				if slices.Contains(list[i].Needs, NeedSecondKey) && missing == "" {
					missing = "needs second-key: no second API key given (add --second-api-key KEY)"
				}
				switch {
				case missing != "":
					if r.Status != Skipped || r.Reason != missing {
						t.Errorf("%s: %s %q, want skipped %q", r.Name, r.Status, r.Reason, missing)
					}
				case r.Status != Passed:
					t.Errorf("%s", describe(r))
				default:
					passed++
				}
			}
			if passed < 10 {
				t.Errorf("only %d scenarios ran", passed)
			}
		})
	}
}

func TestUnreachableTarget(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	_, err := Run(context.Background(), builtin(t), RunOptions{Target: Target{BaseURL: url}})
	var ue *UnreachableError
	if !errors.Is(err, ErrUnreachable) || !errors.As(err, &ue) || ue.Service != ServiceAPI || ue.URL != url {
		t.Fatalf("got %v", err)
	}
	live, _ := startServer(t, true)
	_, err = Run(context.Background(), builtin(t), RunOptions{Target: Target{BaseURL: live.URL, AdminURL: url, AdminToken: "t"}})
	if !errors.As(err, &ue) || ue.Service != ServiceAdmin || ue.URL != url {
		t.Fatalf("admin API unreachable: %v", err)
	}
	_, err = Run(context.Background(), builtin(t), RunOptions{Target: Target{BaseURL: live.URL, AdminURL: live.URL, AdminToken: "wrong"}})
	if !errors.Is(err, ErrAdminTokenRefused) || errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), live.URL) {
		t.Fatalf("wrong admin token: %v", err)
	}
}

func TestEnvironmentSecretsAndCapturesAreMasked(t *testing.T) {
	t.Setenv("PARAGON_TEST_PASSWORD", "s3cret-from-env")
	src := `name: masked
needs: [admin]
given:
  key: {allow_untrusted: true}
steps:
  - login: alice
    capture:
      rt: $.token.refresh_token
  - name: env secret in a header and the body
    http:
      method: POST
      url: /api/v1/login
      headers: {X-Custom: "${PARAGON_TEST_PASSWORD}", X-Api-Key: "${api_key}"}
      form: {authtype: "0", userid: alice, password: "${PARAGON_TEST_PASSWORD}", note: "${rt}"}
    expect:
      status: 200
      body: {matches: "${PARAGON_TEST_PASSWORD}"}
`
	list, err := Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Scenarios[0]
	st := r.Steps[2]
	if r.Status != Failed || st.Status != Failed || st.Exchange == nil {
		t.Fatalf("%s", describe(r))
	}
	all := st.Exchange.Request + st.Exchange.Response
	for _, f := range st.Failures {
		all += f.Expectation + f.Expected + f.Actual
	}
	for _, secret := range []string{"s3cret-from-env", DemoAPIKey} {
		if strings.Contains(all, secret) {
			t.Errorf("report shows %q:\n%s", secret, all)
		}
	}
	if !strings.Contains(st.Exchange.Request, "X-Custom: [redacted]") || !strings.Contains(st.Exchange.Request, "password=[redacted]") || !strings.Contains(st.Exchange.Request, "note=[redacted]") {
		t.Errorf("request not masked as expected:\n%s", st.Exchange.Request)
	}
	if st.Failures[0].Expectation != "status 200" || !strings.Contains(st.Failures[0].Actual, "401") {
		t.Errorf("failures %+v", st.Failures)
	}
}

func TestUnsetEnvironmentVariableFailsTheStep(t *testing.T) {
	list, err := Parse("e.yaml", []byte("name: e\nsteps:\n  - call: {path: /version, token: \"${PARAGON_SURELY_UNSET_VAR}\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Scenarios[0].Steps[0]
	if st.Status != Failed || !strings.Contains(st.Error, "PARAGON_SURELY_UNSET_VAR is not set") {
		t.Errorf("%+v", st)
	}
}

// TestParallelRunsScenariosAtOnce proves that --parallel N has N scenarios in
// flight: each scenario's request waits at a barrier until all four have
// arrived, which cannot happen one at a time.
func TestParallelRunsScenariosAtOnce(t *testing.T) {
	var list []*Scenario
	for i := 0; i < 4; i++ {
		l, err := Parse("p.yaml", []byte("name: p"+strconv.Itoa(i)+"\nsteps:\n  - call: GET /version\n    expect: {status: 403}\n"))
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, l...)
	}
	arrived := make(chan struct{}, 4)
	all := make(chan struct{})
	var once sync.Once
	barrier := func(h http.Handler, _ string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/version" {
				arrived <- struct{}{}
				if len(arrived) == 4 {
					once.Do(func() { close(all) })
				}
				select {
				case <-all:
				case <-time.After(10 * time.Second):
					http.Error(w, "only some scenarios ran at once", http.StatusTeapot)
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	rep, err := Run(context.Background(), list, RunOptions{Parallel: 4, Target: Target{Wrap: barrier}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Scenarios {
		if r.Status != Passed {
			t.Errorf("%s", describe(r))
		}
	}
}

func TestStepsThatCannotRunSayWhy(t *testing.T) {
	cases := map[string]string{
		"  - refresh: {user: alice}\n":                         `no session "alice" with a refresh token: log in first`,
		"  - refresh: {device: printer}\n":                     `device "printer" has no refresh token yet`,
		"  - login: {user: alice, device: printer}\n":          `device "printer" has no device token yet`,
		"  - call: {path: /version, as: bob}\n":                `no session "bob": log in first`,
		"  - call: {path: /version, as: \"device:printer\"}\n": `device "printer" has no device token yet`,
		"  - device_token: {device: p, sign: yes}\n":           `sign: yes, but the device has no key`,
	}
	for steps, want := range cases {
		list, err := Parse("s.yaml", []byte("name: s\nsteps:\n"+steps))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Run(context.Background(), list, RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := rep.Scenarios[0].Steps[0]
		if st.Status != Failed || !strings.Contains(st.Error, want) {
			t.Errorf("%s: %s %q, want %q", strings.TrimSpace(steps), st.Status, st.Error, want)
		}
	}
}

// A run cancelled while a step is under way reports that scenario SKIPPED
// ("run cancelled"), not as a failure of the server.
func TestCancelDuringStepSkips(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := `name: cut-short
severity: warning
steps:
  - call: GET /version
    expect: {status: 403}
  - call: GET /account
    expect: {status: 403}
  - call: GET /account
`
	list, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	// the server answers the second request 500, as Ctrl-C arrives
	wrap := func(h http.Handler, _ string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/account" {
				cancel()
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	rep, err := Run(ctx, list, RunOptions{Target: Target{Wrap: wrap}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if !rep.Interrupted {
		t.Error("the report does not say the run was interrupted")
	}
	r := rep.Scenarios[0]
	if r.Status != Skipped || r.Reason != "run cancelled" || len(r.Steps) != 3 {
		t.Fatalf("%s", describe(r))
	}
	for i, want := range []Status{Passed, Skipped, Skipped} {
		if r.Steps[i].Status != want {
			t.Errorf("step %d: %s, want %s", i+1, r.Steps[i].Status, want)
		}
	}
}

// TestRefusedAPIKeys: a key the outside target refuses stops the run before
// anything runs, saying which key, instead of failing scenarios as if the
// server were at fault.
func TestRefusedAPIKeys(t *testing.T) {
	srv, tok := startServer(t, true)
	for _, c := range []struct {
		target Target
		key    string
	}{
		{Target{BaseURL: srv.URL, APIKey: "wrong-key"}, KeyDefault},
		{Target{BaseURL: srv.URL, SecondAPIKey: "wrong-second"}, KeySecond},
		{Target{BaseURL: srv.URL, SecondAPIKey: "wrong-second", AdminURL: srv.URL, AdminToken: tok}, KeySecond},
	} {
		ran := false
		rep, err := Run(context.Background(), builtin(t), RunOptions{Target: c.target, OnEvent: func(Event) { ran = true }})
		var kre *KeyRefusedError
		if rep != nil || ran || !errors.Is(err, ErrAPIKeyRefused) || !errors.As(err, &kre) || kre.Key != c.key || kre.URL != srv.URL {
			t.Errorf("%+v: report %v, ran %v, err %v", c.target, rep != nil, ran, err)
			continue
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("the key is in the error: %v", err)
		}
	}
	// The demo key passes (the reference server's demo account has no second key).
	list := []*Scenario{}
	for _, s := range builtin(t) {
		if len(s.Needs) == 0 {
			list = append(list, s)
			break
		}
	}
	if _, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: srv.URL, APIKey: DemoAPIKey}}); err != nil {
		t.Errorf("good keys: %v", err)
	}
}
