package explore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/paragon-cli/paragon/scenarios"
	"github.com/paragon-cli/paragon/scenarios/internal/broken"
	"github.com/paragon-cli/paragon/server"
)

// declaredServer serves a reference server with the demo account, a second
// key and a real clock over HTTP on 127.0.0.1, its default key trusting
// devices automatically unless manual, wrapped by wrap; its admin token
// stays with the test (and the broken variants, in process).
func declaredServer(t testing.TB, wrap func(http.Handler, string) http.Handler, manual bool) (*httptest.Server, string) {
	t.Helper()
	acct := server.DemoAccount()
	acct.Keys[0].AutoTrust = !manual
	acct.Keys = append(acct.Keys, server.Key{Name: "second", Value: scenarios.EmbeddedSecondAPIKey, Type: "general", Active: true,
		AllowedIPs: []string{}, Permissions: []string{}})
	const token = "adm-declared-test"
	srv, err := server.New(server.Options{Account: acct, PasswordCost: bcrypt.MinCost, AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv, token)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })
	return hs, token
}

// targetFile is what a target file would declare about declaredServer.
func targetFile(t testing.TB, url string, manual bool, approve string) *scenarios.Declared {
	t.Helper()
	env := map[string]string{"K": scenarios.DemoAPIKey, "K2": scenarios.EmbeddedSecondAPIKey, "PA": "wonderland", "PB": "builder", "PC": "queen-of-hearts", "APPROVE": approve}
	text := `server: ` + url + `
keys:
  default: {value: "${K}", auto_trust: ` + map[bool]string{true: "false", false: "true"}[manual] + `}
  second: {value: "${K2}"}
users:
  alice: {userid: alice, password: "${PA}", card: CARD-0001, short_id: "1001", email: alice@example.com}
  bob: {userid: bob, password: "${PB}", card: CARD-0002, short_id: "1002", email: bob@example.com}
  carol: {userid: carol, password: "${PC}", card: CARD-0003, short_id: "1003", email: carol@example.com, admin: true}
lifetimes: {access_token_ttl: 1h, refresh_token_ttl: 2160h, device_code_ttl: 72h, refresh_grace: 0s}
`
	if approve != "" {
		text += "approval: command\napproval_command: \"${APPROVE}\"\n"
	}
	tf, err := scenarios.ParseTargetFile("t.yaml", []byte(text), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return tf.Declared
}

// declared is an explorer's Target for a declared server: no admin API.
func declared(hs *httptest.Server, decl *scenarios.Declared) Target {
	def, second, _ := DeclaredKeys(decl)
	return Target{Client: hs.Client(), BaseURL: hs.URL, OAuthURL: hs.URL, APIKey: def, SecondAPIKey: second, Declared: decl}
}

// TestDeclaredTargetNoViolation: against the reference server known only
// through a target file, the walks send nothing that needs the admin API
// and find nothing, sequentially and with refreshes sent at once.
func TestDeclaredTargetNoViolation(t *testing.T) {
	steps := 4000
	if testing.Short() || raceEnabled {
		steps = 1000
	}
	for _, conc := range []int{1, 4} {
		hs, _ := declaredServer(t, nil, false)
		decl := targetFile(t, hs.URL, false, "")
		res, err := Explore(context.Background(), Options{Target: declared(hs, decl), Seed: 5, Steps: steps, Concurrency: conc})
		if err != nil {
			t.Fatal(err)
		}
		if v := res.Violation; v != nil {
			t.Fatalf("concurrency %d: %s: expected %s, got %s (rule %s)\n%s", conc, v.Op, v.Expected, v.Got, v.Rule, v.Scenario)
		}
		for k := range res.Coverage {
			for _, admin := range []string{"approve", "refuse", "forget", "revoke", "advance", "grace", "switch", "key"} {
				if strings.HasPrefix(k, admin+":") {
					t.Errorf("an operation the target does not allow: %s", k)
				}
			}
		}
		for _, want := range []string{"refresh: 200", "refresh: 400 invalid_grant", "login: 200", "poll: 200", "call: 200"} {
			if res.Coverage[want] == 0 {
				t.Errorf("concurrency %d: never %q: %v", conc, want, res.CoverageLines())
			}
		}
		if !strings.Contains(strings.Join(res.Impossible, "\n"), "advance: no fake clock") {
			t.Errorf("impossible operations not reported: %q", res.Impossible)
		}
		if res.Devices == 0 {
			t.Errorf("no device registered counted")
		}
	}
}

// TestDeclaredTargetApprovalCommand: with a key that does not trust devices
// automatically, devices are approved by the target file's command.
func TestDeclaredTargetApprovalCommand(t *testing.T) {
	hs, token := declaredServer(t, nil, true)
	// The command approves through an HTTP request of its own: this test
	// binary, re-run as the command (see TestMain).
	script := filepath.Join(t.TempDir(), "approve")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	body := "#!/bin/sh\nexec " + self + " -test.run=^$ approve-helper " + hs.URL + " " + token + " \"$1\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	decl := targetFile(t, hs.URL, true, script)
	res, err := Explore(context.Background(), Options{Target: declared(hs, decl), Seed: 2, Steps: 600})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Violation; v != nil {
		t.Fatalf("%s: expected %s, got %s (rule %s)\n%s", v.Op, v.Expected, v.Got, v.Rule, v.Scenario)
	}
	if res.Coverage["approve: 200"] == 0 || res.Coverage["poll: 200"] == 0 {
		t.Errorf("no device approved and exchanged: %v", res.CoverageLines())
	}
}

// declaredVariants are broken servers explore must find behind a target
// file, without the admin API.
var declaredVariants = []struct {
	name        string
	wrap        func(http.Handler, string) http.Handler
	concurrency int
}{
	{"refresh does not rotate", broken.KeepsRefreshToken, 1},
	{"reuse spares the device family", broken.ReuseSparesDeviceFamily, 1},
	{"user token not bound to its key", broken.IgnoresKeyBinding, 1},
	{"two refreshes of one token at once both succeed", broken.RacyRefresh, 2},
}

// TestDeclaredTargetFindsBrokenServers: explore finds each variant behind a
// target file, and the scenario it writes fails against the variant and
// passes against the reference server, both run with the target file.
func TestDeclaredTargetFindsBrokenServers(t *testing.T) {
	for _, v := range declaredVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			hs, _ := declaredServer(t, v.wrap, false)
			decl := targetFile(t, hs.URL, false, "")
			res, err := Explore(context.Background(), Options{Target: declared(hs, decl), Seed: 1, Steps: 30000, Concurrency: v.concurrency})
			if err != nil {
				t.Fatal(err)
			}
			viol := res.Violation
			if viol == nil {
				t.Fatalf("no violation in %d operations", res.Ops)
			}
			t.Logf("after %d ops, %d replays: step %d of %d (from %d): %s: expected %s, got %s", res.Ops, viol.Replays, viol.Step, len(viol.Walk.Ops), viol.Original, viol.Op, viol.Expected, viol.Got)
			list, want := parseViolation(t, viol)
			got := tries(v.concurrency, want, func() scenarios.Status { return replayDeclared(t, list, hs, decl) })
			if got != want {
				t.Errorf("the scenario against the broken server: %s, want %s\n%s", got, want, viol.Scenario)
			}
			good, _ := declaredServer(t, nil, false)
			if got := replayDeclared(t, list, good, targetFile(t, good.URL, false, "")); got != scenarios.Passed {
				t.Errorf("the scenario against the reference server: %s, want PASSED\n%s", got, viol.Scenario)
			}
		})
	}
}

// replayDeclared runs the scenario file as `paragon scenario run --target`
// does: against the server hs as decl declares it, without an admin API.
func replayDeclared(t testing.TB, list []*scenarios.Scenario, hs *httptest.Server, decl *scenarios.Declared) scenarios.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := scenarios.Run(ctx, list, scenarios.RunOptions{Target: scenarios.Target{BaseURL: hs.URL, HTTPClient: hs.Client(), Declared: decl}})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Scenarios[0]
	if r.Status != scenarios.Passed {
		t.Logf("%s: %s", r.Status, r.Reason)
		for _, st := range r.Steps {
			if st.Status != scenarios.Passed && st.Status != scenarios.Skipped {
				t.Logf("%s: %s %v %s", st.Name, st.Status, st.Failures, st.Error)
			}
		}
	}
	return r.Status
}

func TestCheckDeclared(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"keys: {default: {value: k}}\nusers: {alice: {userid: a}}\n", "declares no access_token_ttl, refresh_token_ttl, device_code_ttl, refresh_grace: explore predicts"},
		{"keys: {default: {value: k, active: false}}\nusers: {alice: {userid: a}}\nlifetimes: {access_token_ttl: 1h, refresh_token_ttl: 1h, device_code_ttl: 1h, refresh_grace: 0s}\n", "explore needs an active, unrestricted default key"},
		{"keys: {default: {value: k}}\nlifetimes: {access_token_ttl: 1h, refresh_token_ttl: 1h, device_code_ttl: 1h, refresh_grace: 0s}\n", "declares no users"},
		{"keys: {default: {value: k}}\nusers: {alice: {userid: a}}\nlifetimes: {access_token_ttl: 2s, refresh_token_ttl: 1h, device_code_ttl: 1h, refresh_grace: 0s}\n", "a lifetime of 2s"},
	} {
		text := strings.ReplaceAll(c.text, "value: k", `value: "${K}"`)
		tf, err := scenarios.ParseTargetFile("t.yaml", []byte(text), func(string) string { return "x" })
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckDeclared(tf.Declared); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
	}
}

// TestMain also serves as the approval command of
// TestDeclaredTargetApprovalCommand: "approve-helper URL TOKEN CLIENT_ID"
// approves the device through the server's admin API.
func TestMain(m *testing.M) {
	if i := slices.Index(os.Args, "approve-helper"); i > 0 && len(os.Args) == i+4 {
		base, token, id := os.Args[i+1], os.Args[i+2], os.Args[i+3]
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/api/devices/"+url.PathEscape(id)+"/approve", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, "approve:", resp.Status)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
