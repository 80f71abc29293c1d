package scenarios

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/paragon-cli/paragon/scenarios/internal/broken"
)

// The helpers the broken variants share.
var (
	inner    = broken.Inner
	peekBody = broken.PeekBody
	setBody  = broken.SetBody
)

// acceptsLoginWithoutDeviceToken is a server that lets a login without a
// device token through: it registers and approves a device behind the
// client's back and injects that device's token.
func acceptsLoginWithoutDeviceToken(h http.Handler, adminToken string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/login" && r.Header.Get("Authorization") == "" {
			id := newUUID()
			key := r.Header.Get("X-Api-Key")
			form := url.Values{"client_id": {id}, "client_secret": {key}, "client_type": {"server"}, "response_type": {"device_code"}}
			rec := inner(h, "POST", "/oauth/v1/register", "application/x-www-form-urlencoded", "", form.Encode())
			var reg struct {
				DeviceCode string `json:"device_code"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &reg)
			if reg.DeviceCode != "" {
				inner(h, "POST", "/admin/api/devices/"+id+"/approve", "", "Bearer "+adminToken, "")
				form = url.Values{"client_id": {id}, "client_secret": {key}, "grant_type": {"device_code"}, "device_code": {reg.DeviceCode}}
				rec = inner(h, "POST", "/oauth/v1/token", "application/x-www-form-urlencoded", "", form.Encode())
				var tok struct {
					AccessToken string `json:"access_token"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &tok)
				if tok.AccessToken != "" {
					r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// keepsRefreshToken is a server that does not rotate refresh tokens: a
// refresh answers with the refresh token the client presented (it keeps the
// real one to itself), so the same token works for ever.
func keepsRefreshToken(h http.Handler, _ string) http.Handler {
	var mu sync.Mutex
	real := map[string]string{} // token the client holds → the server's current one
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/v1/token" || r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		body := peekBody(r)
		f, _ := url.ParseQuery(string(body))
		if f.Get("grant_type") != "refresh_token" {
			h.ServeHTTP(w, r)
			return
		}
		held := f.Get("refresh_token")
		mu.Lock()
		cur, mapped := real[held]
		mu.Unlock()
		nb := string(body)
		req := r.Clone(r.Context())
		if mapped {
			f.Set("refresh_token", cur)
			nb = f.Encode()
			req.Header.Del(signatureHeader) // the body changed: this server takes it unsigned
		}
		setBody(req, []byte(nb))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		var tok map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(out, &tok) == nil {
			mu.Lock()
			real[held] = tok["refresh_token"].(string)
			mu.Unlock()
			tok["refresh_token"] = held
			out, _ = json.Marshal(tok)
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

// noWWWAuthenticate drops the WWW-Authenticate header (an [ours] detail).
func noWWWAuthenticate(h http.Handler, _ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(headerDropper{w}, r)
	})
}

type headerDropper struct{ http.ResponseWriter }

func (d headerDropper) WriteHeader(code int) {
	d.Header().Del("WWW-Authenticate")
	d.ResponseWriter.WriteHeader(code)
}

// forbiddenNotUnauthorized answers 403 where the reference server answers
// 401 for an expired, revoked or unknown token: a plausible alternative the
// contract names (section 5).
func forbiddenNotUnauthorized(h http.Handler, _ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(tokenStatusRewriter{w}, r)
	})
}

type tokenStatusRewriter struct{ http.ResponseWriter }

func (s tokenStatusRewriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized && strings.Contains(s.Header().Get("WWW-Authenticate"), "invalid_token") {
		code = http.StatusForbidden
	}
	s.ResponseWriter.WriteHeader(code)
}

// ignoresKeyBinding accepts a user token with any key of the account: calls
// and user-token refreshes with the second key are passed on with the key
// used at login.
func ignoresKeyBinding(h http.Handler, _ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/login" && r.Header.Get("Authorization") != "" && r.Header.Get("X-Api-Key") == embeddedSecondKey {
			r.Header.Set("X-Api-Key", DemoAPIKey)
		}
		if r.URL.Path == "/oauth/v1/token" {
			f, _ := url.ParseQuery(string(peekBody(r)))
			if f.Get("client_id") == "api" && f.Get("client_secret") == embeddedSecondKey {
				f.Set("client_secret", DemoAPIKey)
				setBody(r, []byte(f.Encode()))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// acceptsInsecureLogin lets every kind of credential log in as if the key
// allowed unauthenticated requests: it switches that on around each login
// with another authtype than 0 (the device-token rule still applies).
func acceptsInsecureLogin(h http.Handler, adminToken string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/login" {
			h.ServeHTTP(w, r)
			return
		}
		f, _ := url.ParseQuery(string(peekBody(r)))
		if at := f.Get("authtype") + r.URL.Query().Get("authtype"); at == "" || at == "0" {
			h.ServeHTTP(w, r)
			return
		}
		keys := inner(h, "GET", "/admin/api/keys", "", "Bearer "+adminToken, "")
		var list struct {
			Items []struct {
				Name                 string `json:"name"`
				Value                string `json:"value"`
				AllowUnauthenticated bool   `json:"allow_unauthenticated"`
			} `json:"items"`
		}
		_ = json.Unmarshal(keys.Body.Bytes(), &list)
		for _, k := range list.Items {
			if k.Value == r.Header.Get("X-Api-Key") && !k.AllowUnauthenticated {
				inner(h, "PATCH", "/admin/api/keys/"+k.Name, "application/json", "Bearer "+adminToken, `{"allow_unauthenticated":true}`)
				defer inner(h, "PATCH", "/admin/api/keys/"+k.Name, "application/json", "Bearer "+adminToken, `{"allow_unauthenticated":false}`)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// ignoresKeyField is a server that accepts a change to a key's field through
// the admin API but never applies it (as if the feature did not exist).
func ignoresKeyField(field string) func(http.Handler, string) http.Handler {
	return func(h http.Handler, _ string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/admin/api/keys/") {
				var patch map[string]any
				if json.Unmarshal(peekBody(r), &patch) == nil {
					delete(patch, field)
					body, _ := json.Marshal(patch)
					setBody(r, body)
				}
			}
			h.ServeHTTP(w, r)
		})
	}
}

// trustsEveryDevice approves every device as soon as it registers, as if
// automatic endpoint trust were always on.
func trustsEveryDevice(h http.Handler, adminToken string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/v1/register" {
			h.ServeHTTP(w, r)
			return
		}
		body := peekBody(r)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			f, _ := url.ParseQuery(string(body))
			inner(h, "POST", "/admin/api/devices/"+url.PathEscape(f.Get("client_id"))+"/approve", "", "Bearer "+adminToken, "")
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

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

func TestBrokenServersFailTheRightScenarios(t *testing.T) {
	cases := []struct {
		name   string
		wrap   func(http.Handler, string) http.Handler
		failed []string
		warned []string
	}{
		{
			name:   "login without device token",
			wrap:   acceptsLoginWithoutDeviceToken,
			failed: []string{"unauthenticated-off-refuses-card-without-device", "unauthenticated-on-still-needs-device-token", "untrusted-off-login-needs-device-token"},
			warned: []string{"admin-reset-restores-start-state", "insecure-login-error-code", "untrusted-off-login-error-codes"},
		},
		{
			name:   "refresh does not rotate",
			wrap:   keepsRefreshToken,
			failed: []string{"refresh-device-token-with-device-id", "refresh-user-token-with-api"},
			warned: []string{"refresh-grace-period-over", "refresh-rotation-device-family", "refresh-rotation-reuse-revokes-family"},
		},
		{
			name:   "user token not bound to its key",
			wrap:   ignoresKeyBinding,
			failed: []string{"key-user-token-bound-to-key"},
			warned: []string{"keys-error-codes", "refresh-user-token-bound-to-key"},
		},
		{
			name:   "every device trusted at once",
			wrap:   trustsEveryDevice,
			failed: []string{"approval-grants-device-token", "auto-trust-off-device-waits", "device-token-poll-until-done", "errors-are-json", "register-description-shown-to-admin"},
			warned: []string{"device-token-slow-down", "reregistration-unsigned-needs-approval-again"},
		},
		{
			name:   "insecure credentials accepted without the switch",
			wrap:   acceptsInsecureLogin,
			failed: []string{"unauthenticated-off-refuses-card-without-device", "unauthenticated-off-refuses-insecure-login", "unauthenticated-off-refuses-name-and-email-without-device"},
			warned: []string{"insecure-login-error-code"},
		},
		{
			name:   "key expiry ignored",
			wrap:   ignoresKeyField("expires_at"),
			failed: []string{"key-expired-refused"},
			warned: []string{"key-expiry-follows-server-clock"},
		},
		{
			name:   "allowed IP ranges ignored",
			wrap:   ignoresKeyField("allowed_ips"),
			failed: []string{"key-ip-restricted"},
		},
		{
			name:   "permissions ignored",
			wrap:   ignoresKeyField("permissions"),
			failed: []string{"key-function-permissions"},
			warned: []string{"keys-error-codes"},
		},
		{
			name:   "inactive keys still work",
			wrap:   ignoresKeyField("active"),
			failed: []string{"key-inactive-refused", "key-inactive-refused-by-oauth"},
			warned: []string{"keys-error-codes"},
		},
		{
			name:   "allow unauthenticated requests cannot be switched on",
			wrap:   ignoresKeyField("allow_unauthenticated"),
			failed: []string{"unauthenticated-on-functions-without-token"},
			warned: []string{"faults-injected-and-cleared", "functions-anonymous-changes-forbidden", "unauthenticated-on-allows-insecure-login", "unauthenticated-on-insecure-login-from-trusted-device"},
		},
		{
			name:   "automatic endpoint trust cannot be switched on",
			wrap:   ignoresKeyField("auto_trust"),
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
			wrap:   noWWWAuthenticate,
			warned: []string{"device-token-cannot-call-functions", "errors-token-codes", "expired-access-token-401-www-authenticate", "unknown-token-401-www-authenticate"},
		},
		{
			name:   "403 instead of 401 for a bad token",
			wrap:   forbiddenNotUnauthorized,
			warned: []string{"errors-token-codes", "expired-access-token-401-www-authenticate", "refresh-after-revoke", "refresh-rotation-reuse-revokes-family", "unknown-token-401-www-authenticate"},
		},
	}
	for _, c := range cases {
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
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{Wrap: acceptsLoginWithoutDeviceToken}})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Scenarios[0]
	if r.Status != Failed || len(r.Steps) != 2 {
		t.Fatalf("%s", describe(r))
	}
	st := r.Steps[0]
	if st.Status != Failed || len(st.Failures) != 1 {
		t.Fatalf("%s", describe(r))
	}
	f := st.Failures[0]
	if f.Expectation != "status 403" || f.Expected != "403" || f.Actual != "200" {
		t.Errorf("failure %+v", f)
	}
	if r.Steps[1].Status != Skipped {
		t.Errorf("the step after a failure should be skipped, got %s", r.Steps[1].Status)
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
