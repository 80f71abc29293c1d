package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAdminAuth(t *testing.T) {
	s := newTestServer(t)
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic admin-secret"}} {
		r := do(t, s, req{method: "GET", path: "/admin/api/devices", headers: h})
		if r.Code != 401 || r.errCode(t) != "invalid_token" {
			t.Errorf("%v: %d %s", h, r.Code, r.Body)
		}
	}
	if r := adminDo(t, s, "GET", "/admin/api/devices", ""); r.Code != 200 {
		t.Errorf("right token: %d", r.Code)
	}
	// A random admin token when none is given.
	s2 := newTestServer(t, func(o *Options) { o.AdminToken = "" })
	if len(s2.AdminToken()) != 64 {
		t.Errorf("admin token %q", s2.AdminToken())
	}
}

func TestAdminDevices(t *testing.T) {
	s := newTestServer(t)
	newTestDevice("p1").register(t, s)
	trustedDevice(t, s, newTestDevice("t1"))
	newTestDevice("r1").register(t, s)
	adminDo(t, s, "POST", "/admin/api/devices/r1/refuse", "")
	var list struct {
		Items []map[string]string `json:"items"`
	}
	if err := json.Unmarshal(adminDo(t, s, "GET", "/admin/api/devices", "").Body, &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range list.Items {
		got[d["client_id"]] = d["status"]
		if d["client_type"] != "desktop_client" || d["registered_at"] == "" {
			t.Errorf("device %v", d)
		}
	}
	if got["p1"] != "pending" || got["t1"] != "trusted" || got["r1"] != "refused" {
		t.Errorf("statuses %v", got)
	}
	for _, p := range []string{"/admin/api/devices/none/approve", "/admin/api/devices/none/refuse"} {
		if r := adminDo(t, s, "POST", p, ""); r.Code != 404 {
			t.Errorf("%s: %d", p, r.Code)
		}
	}
	if r := adminDo(t, s, "DELETE", "/admin/api/devices/none", ""); r.Code != 404 {
		t.Errorf("delete unknown: %d", r.Code)
	}
	if r := adminDo(t, s, "GET", "/admin/api/devices/p1/approve", ""); r.Code != 405 || r.errCode(t) != "method_not_allowed" || r.Header.Get("Allow") != "POST" {
		t.Errorf("GET approve: %d %q %s", r.Code, r.Header.Get("Allow"), r.Body)
	}
}

func TestAdminKeys(t *testing.T) {
	s := newTestServer(t)
	r := adminDo(t, s, "GET", "/admin/api/keys", "")
	var list struct {
		Items []map[string]any `json:"items"`
	}
	_ = json.Unmarshal(r.Body, &list)
	if len(list.Items) != 1 || list.Items[0]["value"] != testKey || list.Items[0]["allow_untrusted"] != false {
		t.Fatalf("keys %s", r.Body)
	}
	for _, f := range []string{"name", "value", "type", "active", "expires_at", "allowed_ips", "allow_unauthenticated", "allow_untrusted", "auto_trust", "permissions"} {
		if _, ok := list.Items[0][f]; !ok {
			t.Errorf("field %s missing", f)
		}
	}
	if r := adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"allow_untrusted":true}`); r.Code != 200 {
		t.Fatalf("patch: %d %s", r.Code, r.Body)
	}
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 200 {
		t.Fatalf("login after patch: %d", r.Code)
	}
	if r := adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"active":false}`); r.Code != 200 {
		t.Fatal(r.Code)
	}
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 403 {
		t.Fatalf("login with inactive key: %d", r.Code)
	}
	for _, bad := range []string{`{"colour":1}`, `{"value":"new"}`, `{"allowed_ips":["x"]}`, `{"permissions":["print"]}`, `{"expires_at":"soon"}`, `{`, `[]`} {
		if r := adminDo(t, s, "PATCH", "/admin/api/keys/default", bad); r.Code != 400 {
			t.Errorf("%s: %d %s", bad, r.Code, r.Body)
		}
	}
	if r := adminDo(t, s, "PATCH", "/admin/api/keys/none", `{}`); r.Code != 404 {
		t.Errorf("unknown key: %d", r.Code)
	}
}

func TestAdminSettingsChangeLifetimes(t *testing.T) {
	s := permissive(t)
	r := adminDo(t, s, "GET", "/admin/api/settings", "")
	m := r.json(t)
	if m["access_token_ttl"] != "1h0m0s" || m["refresh_token_ttl"] != "2160h0m0s" || m["device_code_ttl"] != "72h0m0s" || m["refresh_grace"] != "0s" {
		t.Fatalf("settings %s", r.Body)
	}
	if r := adminDo(t, s, "PATCH", "/admin/api/settings", `{"access_token_ttl":"2m","refresh_token_ttl":"10m","device_code_ttl":"1m"}`); r.Code != 200 {
		t.Fatalf("patch %d %s", r.Code, r.Body)
	}
	r = login(t, s, "", pw("alice", "wonderland"))
	tok := r.json(t)["token"].(map[string]any)
	if tok["expires_in"].(float64) != 120 {
		t.Fatalf("expires_in %v", tok["expires_in"])
	}
	advance(t, s, 2*time.Minute)
	if r := call(t, s, "GET", "/api/v1/version", tok["access_token"].(string)); r.Code != 401 {
		t.Fatalf("access after 2m: %d", r.Code)
	}
	advance(t, s, 8*time.Minute)
	if r := refresh(t, s, "api", tok["refresh_token"].(string)); r.errCode(t) != "invalid_grant" {
		t.Fatalf("refresh after 10m: %s", r.Body)
	}
	d := newTestDevice("short")
	code := d.register(t, s)
	advance(t, s, time.Minute)
	if r := d.poll(t, s, code); r.errCode(t) != "expired_token" {
		t.Fatalf("device code after 1m: %s", r.Body)
	}
	for _, bad := range []string{`{"access_token_ttl":"0s"}`, `{"refresh_grace":"-1s"}`, `{"access_token_ttl":"forever"}`, `{"x":"1s"}`} {
		if r := adminDo(t, s, "PATCH", "/admin/api/settings", bad); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
}

func TestAdminRevoke(t *testing.T) {
	s := newTestServer(t)
	dt, _ := trustedDevice(t, s, newTestDevice("rv"))
	at, _ := userToken(t, s, dt, "alice", "wonderland")
	bt, _ := userToken(t, s, dt, "bob", "builder")
	if r := adminDo(t, s, "POST", "/admin/api/revoke", `{"username":"alice"}`); r.Code != 200 || r.json(t)["revoked"].(float64) != 1 {
		t.Fatalf("revoke alice: %d %s", r.Code, r.Body)
	}
	if r := call(t, s, "GET", "/api/v1/version", at); r.Code != 401 {
		t.Errorf("alice's token: %d", r.Code)
	}
	if r := call(t, s, "GET", "/api/v1/version", bt); r.Code != 200 {
		t.Errorf("bob's token: %d", r.Code)
	}
	if r := adminDo(t, s, "POST", "/admin/api/revoke", `{"client_id":"rv"}`); r.Code != 200 {
		t.Fatalf("revoke device: %d", r.Code)
	}
	if r := login(t, s, dt, pw("alice", "wonderland")); r.Code != 403 {
		t.Errorf("device token after revoke: %d", r.Code)
	}
	for _, bad := range []string{`{}`, `{"username":"alice","client_id":"rv"}`, `{"user":"x"}`} {
		if r := adminDo(t, s, "POST", "/admin/api/revoke", bad); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
	if r := adminDo(t, s, "POST", "/admin/api/revoke", `{"username":"nobody"}`); r.Code != 404 {
		t.Errorf("unknown user: %d", r.Code)
	}
}

func TestAdminClock(t *testing.T) {
	s := newTestServer(t)
	before := s.Now()
	r := adminDo(t, s, "POST", "/admin/api/clock", `{"advance":"61m"}`)
	if r.Code != 200 {
		t.Fatal(r.Code)
	}
	now, err := time.Parse(time.RFC3339, r.json(t)["now"].(string))
	if err != nil || now.Sub(before.Truncate(time.Second)) < 61*time.Minute || now.Sub(before) > 62*time.Minute {
		t.Fatalf("now %v before %v", now, before)
	}
	// Time stands still.
	if !s.Now().Equal(before.Add(61 * time.Minute)) {
		t.Fatalf("clock moved by itself")
	}
	for _, bad := range []string{`{"advance":"-1m"}`, `{"advance":"soon"}`, `{}`} {
		if r := adminDo(t, s, "POST", "/admin/api/clock", bad); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
	// The offset is bounded: advancing twice by the largest duration must not
	// wrap the clock around into the past.
	before = s.Now()
	for i := 0; i < 2; i++ {
		if r := adminDo(t, s, "POST", "/admin/api/clock", `{"advance":"2562047h"}`); r.Code != 400 || r.errCode(t) != "invalid_request" {
			t.Fatalf("huge advance %d: %d %s", i, r.Code, r.Body)
		}
	}
	if r := adminDo(t, s, "POST", "/admin/api/clock", `{"advance":"870000h"}`); r.Code != 200 {
		t.Fatalf("advance near the bound: %d %s", r.Code, r.Body)
	}
	if r := adminDo(t, s, "POST", "/admin/api/clock", `{"advance":"10000h"}`); r.Code != 400 {
		t.Fatalf("advance past the bound: %d %s", r.Code, r.Body)
	}
	if s.Now().Before(before) {
		t.Fatalf("clock went back: %v < %v", s.Now(), before)
	}
	real := newTestServer(t, func(o *Options) { o.FakeClock = false })
	if r := adminDo(t, real, "POST", "/admin/api/clock", `{"advance":"1m"}`); r.Code != 409 || r.errCode(t) != "fake_clock_disabled" {
		t.Fatalf("without fake clock: %d %s", r.Code, r.Body)
	}
}

func TestAdminFaults(t *testing.T) {
	s := newTestServer(t)
	ts := httptest.NewServer(s)
	defer ts.Close()
	post := func(body string) {
		t.Helper()
		if r := adminDo(t, s, "POST", "/admin/api/faults", body); r.Code != 200 {
			t.Fatalf("%s: %d %s", body, r.Code, r.Body)
		}
	}
	get := func(p string) (int, error) {
		res, err := ts.Client().Get(ts.URL + p)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	post(`{"path":"/healthz","status":503,"count":2}`)
	for i, want := range []int{503, 503, 200} {
		if c, err := get("/healthz"); err != nil || c != want {
			t.Fatalf("request %d: %d %v", i, c, err)
		}
	}
	// Exact path match only.
	post(`{"path":"/healthz/x","status":500}`)
	if c, _ := get("/healthz"); c != 200 {
		t.Fatalf("prefix matched: %d", c)
	}
	adminDo(t, s, "DELETE", "/admin/api/faults", "")
	// Drop closes the connection without an answer.
	post(`{"path":"/healthz","drop":true}`)
	if _, err := get("/healthz"); err == nil {
		t.Fatal("dropped request got an answer")
	}
	// Delay.
	post(`{"path":"/healthz","delay":"50ms"}`)
	start := time.Now()
	if c, _ := get("/healthz"); c != 200 || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("delay: %d after %v", c, time.Since(start))
	}
	// DELETE clears.
	post(`{"path":"/healthz","status":500,"count":5}`)
	adminDo(t, s, "DELETE", "/admin/api/faults", "")
	if c, _ := get("/healthz"); c != 200 {
		t.Fatalf("after delete: %d", c)
	}
	for _, bad := range []string{`{"path":"healthz","status":500}`, `{"path":"/x","status":200}`, `{"path":"/x"}`, `{"path":"/x","status":500,"count":0}`, `{"path":"/admin/api/faults","status":500}`, `{"path":"/x","delay":"x"}`, `{"path":"/x","delay":"30.001s"}`, `{"path":"/x","status":500,"count":1000001}`} {
		if r := adminDo(t, s, "POST", "/admin/api/faults", bad); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
}

// A delayed request's body is read before the wait: on an http.Server whose
// read timeout is shorter than the delay, the delayed request is still served.
// This is what lets a fault delay go up to MaxFaultDelay while `paragon
// server` reads requests within 30 s.
func TestFaultDelayReadsTheBodyFirst(t *testing.T) {
	s := permissive(t)
	ts := httptest.NewUnstartedServer(s)
	ts.Config.ReadTimeout = time.Second
	ts.Start()
	defer ts.Close()
	if r := adminDo(t, s, "POST", "/admin/api/faults", `{"path":"/api/v1/login","delay":"1500ms"}`); r.Code != 200 {
		t.Fatalf("fault: %d %s", r.Code, r.Body)
	}
	// The body follows the headers a little later, so it is not already in
	// the server's buffer when the headers are parsed.
	bodyR, bodyW := io.Pipe()
	go func() {
		time.Sleep(20 * time.Millisecond) // a slow sender, not synchronisation
		_, _ = io.WriteString(bodyW, "authtype=0&userid=alice&password=wonderland")
		bodyW.Close()
	}()
	rq, _ := http.NewRequest("POST", ts.URL+"/api/v1/login", bodyR)
	rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rq.Header.Set("X-Api-Key", testKey)
	start := time.Now()
	res, err := ts.Client().Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("delayed login: %d %s", res.StatusCode, body)
	}
	if time.Since(start) < 1500*time.Millisecond {
		t.Fatalf("answered after %v, before the delay", time.Since(start))
	}
	// A body over the limit is still refused as too large.
	adminDo(t, s, "POST", "/admin/api/faults", `{"path":"/api/v1/login","delay":"1ms"}`)
	big := postForm(t, s, "/api/v1/login", url.Values{"userid": {strings.Repeat("a", maxBody)}}, map[string]string{"X-Api-Key": testKey})
	if big.Code != 400 || !strings.Contains(string(big.Body), "1 MiB") {
		t.Fatalf("big delayed body: %d %s", big.Code, big.Body)
	}
}

func TestAdminReset(t *testing.T) {
	s := permissive(t)
	carol, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	do(t, s, req{method: "DELETE", path: "/api/v1/users/bob", headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + carol}})
	newTestDevice("rs").register(t, s)
	adminDo(t, s, "PATCH", "/admin/api/settings", `{"access_token_ttl":"5m"}`)
	adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"auto_trust":true}`)
	adminDo(t, s, "POST", "/admin/api/faults", `{"path":"/healthz","status":500}`)
	advance(t, s, time.Hour)
	for i := 0; i < 5; i++ {
		login(t, s, "", pw("alice", "bad"))
	}
	if r := adminDo(t, s, "POST", "/admin/api/reset", ""); r.Code != 200 {
		t.Fatal(r.Code)
	}
	if !s.Now().Equal(s.fakeBase) {
		t.Error("clock not reset")
	}
	if r := call(t, s, "GET", "/api/v1/version", carol); r.Code != 401 {
		t.Errorf("token survived reset: %d", r.Code)
	}
	if r := adminDo(t, s, "GET", "/admin/api/devices", ""); len(r.json(t)["items"].([]any)) != 0 {
		t.Errorf("devices %s", r.Body)
	}
	if r := adminDo(t, s, "GET", "/admin/api/settings", ""); r.json(t)["access_token_ttl"] != "1h0m0s" {
		t.Errorf("settings %s", r.Body)
	}
	if r := adminDo(t, s, "GET", "/admin/api/keys", ""); strings.Contains(string(r.Body), `"auto_trust":true`) {
		t.Errorf("keys %s", r.Body)
	}
	if r := do(t, s, req{method: "GET", path: "/healthz"}); r.Code != 200 {
		t.Errorf("fault survived reset")
	}
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 200 {
		t.Errorf("throttle survived reset: %d", r.Code)
	}
	if r := login(t, s, "", pw("bob", "builder")); r.Code != 200 {
		t.Errorf("bob not restored: %d", r.Code)
	}
}

func TestAdminPageMounted(t *testing.T) {
	s := newTestServer(t)
	r := do(t, s, req{method: "GET", path: "/admin"})
	if r.Code >= 400 && r.Code != 401 {
		t.Fatalf("/admin: %d", r.Code)
	}
	if r := do(t, s, req{method: "GET", path: "/admin/api/unknown", headers: map[string]string{"Authorization": "Bearer " + s.AdminToken()}}); r.Code != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("unknown admin api: %d %s", r.Code, r.Body)
	}
}

func TestOAuthHandlerServesOnlyOAuth(t *testing.T) {
	s := newTestServer(t)
	h := s.OAuthHandler()
	if r := do(t, h, req{method: "GET", path: "/healthz"}); r.Code != 200 {
		t.Errorf("healthz: %d", r.Code)
	}
	if r := postForm(t, h, "/oauth/v1/register", regForm("o1"), nil); r.Code != 200 {
		t.Errorf("register: %d", r.Code)
	}
	for _, p := range []string{"/api/v1/version", "/admin/api/devices", "/admin"} {
		if r := do(t, h, req{method: "GET", path: p, headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + s.AdminToken()}}); r.Code != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.Code)
		}
	}
}

// TestAdminTokenThrottle: wrong admin API tokens beyond the budget are
// answered after a pause, but the right token is never refused, whoever
// else guesses from the same address.
func TestAdminTokenThrottle(t *testing.T) {
	s := newTestServer(t)
	s.adminGuard.Delay = time.Nanosecond
	wrong := map[string]string{"Authorization": "Bearer wrong"}
	for i := range 10 {
		r := do(t, s, req{method: "GET", path: "/admin/api/devices", headers: wrong, remote: "127.0.0.1:1"})
		if r.Code != 401 || strings.Contains(string(r.Body), "pause") {
			t.Fatalf("guess %d: %d %s", i+1, r.Code, r.Body)
		}
	}
	r := do(t, s, req{method: "GET", path: "/admin/api/devices", headers: wrong, remote: "127.0.0.1:2"})
	if r.Code != 401 || r.errCode(t) != "invalid_token" || !strings.Contains(string(r.Body), "answered after a pause") {
		t.Fatalf("guess beyond the budget: %d %s", r.Code, r.Body)
	}
	r = do(t, s, req{method: "GET", path: "/admin/api/devices", remote: "127.0.0.1:3",
		headers: map[string]string{"Authorization": "Bearer " + s.AdminToken()}})
	if r.Code != 200 {
		t.Fatalf("the right token after many wrong ones: %d %s", r.Code, r.Body)
	}
	// The page's sign-in counts against the same budget.
	page := httptest.NewRequest("POST", "/admin/login", strings.NewReader("token=wrong"))
	page.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	page.RemoteAddr = "127.0.0.1:4"
	signIn := httptest.NewRecorder()
	s.ServeHTTP(signIn, page)
	if signIn.Code != http.StatusTooManyRequests {
		t.Errorf("a wrong sign-in on the page after the API's budget is spent: %d, want 429", signIn.Code)
	}
	// The addresses of one IPv6 /64 share a budget.
	for i := range 10 {
		do(t, s, req{method: "GET", path: "/admin/api/devices", headers: wrong, remote: fmt.Sprintf("[2001:db8:5:6::%x]:1", i+1)})
	}
	if r := do(t, s, req{method: "GET", path: "/admin/api/devices", headers: wrong, remote: "[2001:db8:5:6:ffff::1]:1"}); !strings.Contains(string(r.Body), "answered after a pause") {
		t.Errorf("another address of the same /64 beyond the budget: %s", r.Body)
	}
	// Another address has its own budget; no token at all is no guess.
	if r := do(t, s, req{method: "GET", path: "/admin/api/devices", headers: wrong, remote: "192.0.2.9:1"}); strings.Contains(string(r.Body), "pause") {
		t.Errorf("another address: %s", r.Body)
	}
}
