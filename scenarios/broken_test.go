package scenarios

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/paragon-cli/paragon/scenarios/internal/broken"
)

// outcome lists the scenarios that did not pass, by status.
func outcome(t *testing.T, wrap func(http.Handler, string) http.Handler) map[Status][]string {
	t.Helper()
	list, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Parallel: 2, Target: Target{Wrap: wrap}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[Status][]string{}
	for _, r := range rep.Scenarios {
		if r.Status != Passed {
			got[r.Status] = append(got[r.Status], r.Name)
		}
	}
	for _, v := range got {
		sort.Strings(v)
	}
	return got
}

// brokenCase is a deliberately broken server and the built-in scenarios
// that do not pass against it (on the embedded server, with its admin API).
type brokenCase struct {
	name   string
	wrap   func(http.Handler, string) http.Handler
	failed []string
	warned []string
}

func brokenCases() []brokenCase {
	return []brokenCase{
		{
			name:   "login without device token",
			wrap:   broken.LoginWithoutDeviceToken,
			failed: []string{"unauthenticated-off-refuses-card-without-device", "unauthenticated-on-still-needs-device-token", "untrusted-off-login-needs-device-token"},
			warned: []string{"admin-reset-restores-start-state", "insecure-login-error-code", "untrusted-off-login-error-codes"},
		},
		{
			name:   "refresh does not rotate",
			wrap:   broken.KeepsRefreshToken,
			failed: []string{"refresh-device-token-with-device-id", "refresh-user-token-with-api"},
			warned: []string{"refresh-grace-period-over", "refresh-rotation-device-family", "refresh-rotation-reuse-revokes-family"},
		},
		{
			name:   "user token not bound to its key",
			wrap:   broken.IgnoresKeyBinding,
			failed: []string{"key-user-token-bound-to-key"},
			warned: []string{"keys-error-codes", "refresh-user-token-bound-to-key"},
		},
		{
			name:   "every device trusted at once",
			wrap:   broken.TrustsEveryDevice,
			failed: []string{"approval-grants-device-token", "auto-trust-off-device-waits", "device-token-poll-until-done", "errors-are-json", "register-description-shown-to-admin"},
			warned: []string{"device-token-slow-down", "reregistration-unsigned-needs-approval-again"},
		},
		{
			name:   "insecure credentials accepted without the switch",
			wrap:   broken.AcceptsInsecureLogin,
			failed: []string{"unauthenticated-off-refuses-card-without-device", "unauthenticated-off-refuses-insecure-login", "unauthenticated-off-refuses-name-and-email-without-device"},
			warned: []string{"insecure-login-error-code"},
		},
		{
			name:   "key expiry ignored",
			wrap:   broken.IgnoresKeyField("expires_at"),
			failed: []string{"key-expired-refused", "key-expiry-removed-works"},
			warned: []string{"key-expiry-follows-server-clock"},
		},
		{
			name:   "allowed IP ranges ignored",
			wrap:   broken.IgnoresKeyField("allowed_ips"),
			failed: []string{"key-ip-restricted"},
		},
		{
			name:   "permissions ignored",
			wrap:   broken.IgnoresKeyField("permissions"),
			failed: []string{"key-function-permissions"},
			warned: []string{"keys-error-codes"},
		},
		{
			name:   "inactive keys still work",
			wrap:   broken.IgnoresKeyField("active"),
			failed: []string{"key-inactive-refused", "key-inactive-refused-by-oauth", "key-reactivated-works"},
			warned: []string{"keys-error-codes"},
		},
		{
			name:   "allow unauthenticated requests cannot be switched on",
			wrap:   broken.IgnoresKeyField("allow_unauthenticated"),
			failed: []string{"unauthenticated-on-functions-without-token"},
			warned: []string{"faults-injected-and-cleared", "functions-anonymous-changes-forbidden", "unauthenticated-on-allows-insecure-login", "unauthenticated-on-insecure-login-from-trusted-device"},
		},
		{
			name:   "automatic endpoint trust cannot be switched on",
			wrap:   broken.IgnoresKeyField("auto_trust"),
			failed: []string{"auto-trust-on-trusts-at-once"},
		},
		// Variants `scenario explore` finds (scenarios/explore): what the suite sees of them.
		{
			name:   "grace never ends",
			wrap:   broken.GraceNeverEnds,
			warned: []string{"refresh-grace-period-over"},
		},
		{
			name:   "reuse spares the device family",
			wrap:   broken.ReuseSparesDeviceFamily,
			warned: []string{"refresh-rotation-device-family"},
		},
		{
			name: "a spent device code revives on re-registration",
			wrap: broken.SpentCodeRevives,
		},
		{
			name: "an access token outlives its family's revocation",
			wrap: broken.AccessOutlivesRevocation,
		},
		{
			name: "two refreshes of one token at once both succeed",
			wrap: broken.RacyRefresh,
		},
		// Differences in what the contract marks [ours] only warn.
		{
			name:   "no WWW-Authenticate",
			wrap:   broken.NoWWWAuthenticate,
			warned: []string{"device-token-cannot-call-functions", "errors-token-codes", "expired-access-token-401-www-authenticate", "unknown-token-401-www-authenticate"},
		},
		{
			name:   "403 instead of 401 for a bad token",
			wrap:   broken.ForbiddenNotUnauthorized,
			warned: []string{"errors-token-codes", "expired-access-token-401-www-authenticate", "refresh-after-revoke", "refresh-rotation-reuse-revokes-family", "unknown-token-401-www-authenticate"},
		},
	}
}

func TestBrokenServersFailTheRightScenarios(t *testing.T) {
	for _, c := range brokenCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := outcome(t, c.wrap)
			if !slices.Equal(got[Failed], c.failed) {
				t.Errorf("FAILED:\n got  %q\n want %q", got[Failed], c.failed)
			}
			if !slices.Equal(got[Warning], c.warned) {
				t.Errorf("WARNING:\n got  %q\n want %q", got[Warning], c.warned)
			}
			if len(got[Skipped]) > 0 {
				t.Errorf("SKIPPED %q", got[Skipped])
			}
		})
	}
}

// TestFailureNamesExpectedAndActual checks what a failing step reports: the
// expectation, expected and actual values, and the masked exchange.
func TestFailureNamesExpectedAndActual(t *testing.T) {
	list, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	list = Select(list, Selection{Names: []string{"untrusted-off-login-needs-device-token"}})
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{Wrap: broken.LoginWithoutDeviceToken}})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Scenarios[0]
	if r.Status != Failed || len(r.Steps) != 3 || r.Steps[0].Name != "given" {
		t.Fatalf("%s", describe(r))
	}
	st := r.Steps[1]
	if st.Status != Failed || len(st.Failures) != 1 {
		t.Fatalf("%s", describe(r))
	}
	f := st.Failures[0]
	if f.Expectation != "status 403" || f.Expected != "403" || f.Actual != "200" {
		t.Errorf("failure %+v", f)
	}
	if r.Steps[2].Status != Skipped {
		t.Errorf("the step after a failure should be skipped, got %s", r.Steps[2].Status)
	}
	ex := st.Exchange
	if ex == nil || !strings.Contains(ex.Request, "POST ") || !strings.Contains(ex.Response, "HTTP 200") {
		t.Fatalf("exchange %+v", ex)
	}
	for _, secret := range []string{DemoAPIKey, "wonderland"} {
		if strings.Contains(ex.Request+ex.Response, secret) {
			t.Errorf("exchange shows the secret %q:\n%s\n%s", secret, ex.Request, ex.Response)
		}
	}
	if !strings.Contains(ex.Response, `"access_token":"[redacted]"`) {
		t.Errorf("the access token is not masked:\n%s", ex.Response)
	}
}
