package adminweb

import (
	"context"
	"crypto/tls"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/server/internal/throttle"
)

// tclient drives the handler in memory like a browser that keeps one
// session cookie and never follows redirects.
type tclient struct {
	t      *testing.T
	h      http.Handler
	cookie *http.Cookie
	tls    bool
}

type tresp struct {
	*http.Response
	body string
}

func newClient(t *testing.T, b Backend) (*tclient, *handler) {
	t.Helper()
	st, h := newHandler(b)
	return &tclient{t: t, h: h}, st
}

func (c *tclient) do(method, path string, form url.Values, header ...string) tresp {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c.tls {
		req.TLS = &tls.ConnectionState{}
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.Name == cookieName {
			if ck.MaxAge < 0 {
				c.cookie = nil
			} else {
				c.cookie = &http.Cookie{Name: ck.Name, Value: ck.Value}
			}
		}
	}
	return tresp{res, string(b)}
}

func (c *tclient) get(path string) tresp { c.t.Helper(); return c.do("GET", path, nil) }

func (c *tclient) post(path string, form url.Values) tresp {
	c.t.Helper()
	return c.do("POST", path, form)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in and returns the session's CSRF token, read from the page.
func (c *tclient) signIn() string {
	c.t.Helper()
	r := c.post("/admin/login", url.Values{"token": {testAdminToken}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin" {
		c.t.Fatalf("sign in: %d %q, want 303 to /admin", r.StatusCode, r.Header.Get("Location"))
	}
	page := c.get("/admin")
	m := csrfRE.FindStringSubmatch(page.body)
	if m == nil {
		c.t.Fatalf("no CSRF token on the page:\n%s", page.body)
	}
	return html.UnescapeString(m[1])
}

func wantStatus(t *testing.T, r tresp, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("status %d, want %d; body:\n%s", r.StatusCode, code, r.body)
	}
}

func TestUnauthenticatedGetRedirectsToSignIn(t *testing.T) {
	c, _ := newClient(t, newFakeBackend())
	for _, p := range []string{"/admin", "/admin/"} {
		r := c.get(p)
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/admin/login" {
			t.Fatalf("GET %s redirects to %q, want /admin/login", p, loc)
		}
	}
	r := c.get("/admin/login")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`<label for="token">Admin token</label>`, `id="token" name="token" type="password"`, `<button type="submit" class="primary">Sign in</button>`, `method="post" action="/admin/login"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
}

func TestSignIn(t *testing.T) {
	t.Run("wrong token", func(t *testing.T) {
		c, _ := newClient(t, newFakeBackend())
		for _, tok := range []string{"nope", ""} {
			r := c.post("/admin/login", url.Values{"token": {tok}})
			wantStatus(t, r, http.StatusUnauthorized)
			if len(r.Cookies()) != 0 || c.cookie != nil {
				t.Fatalf("token %q: a cookie was set: %v", tok, r.Cookies())
			}
			if !strings.Contains(r.body, `role="alert"`) || !strings.Contains(r.body, `name="token"`) {
				t.Fatalf("token %q: the 401 page lacks the message or the form:\n%s", tok, r.body)
			}
		}
		r := c.post("/admin/login", url.Values{"token": {"nope"}})
		if !strings.Contains(r.body, "That admin token is not right") {
			t.Fatalf("no clear message:\n%s", r.body)
		}
		wantStatus(t, c.get("/admin"), http.StatusSeeOther)
	})
	t.Run("right token", func(t *testing.T) {
		c, _ := newClient(t, newFakeBackend())
		r := c.post("/admin/login", url.Values{"token": {testAdminToken}})
		wantStatus(t, r, http.StatusSeeOther)
		cs := r.Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies %v, want one", cs)
		}
		ck := cs[0]
		if ck.Name != cookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/admin" || ck.Secure {
			t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin, not Secure over plain HTTP", ck)
		}
		if ck.MaxAge <= 0 {
			t.Fatalf("cookie MaxAge %d", ck.MaxAge)
		}
		if strings.Contains(ck.Value, testAdminToken) || len(ck.Value) < 40 {
			t.Fatalf("cookie value %q is not a random session id", ck.Value)
		}
		for _, p := range []string{"/admin", "/admin/"} {
			page := c.get(p)
			wantStatus(t, page, http.StatusOK)
			if !strings.Contains(page.body, "<h1>paragon server administration</h1>") {
				t.Fatalf("%s is not the admin page:\n%s", p, page.body)
			}
		}
		// Signed in, the sign-in page sends to the admin page.
		r = c.get("/admin/login")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin" {
			t.Fatalf("GET /admin/login when signed in: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
	})
	t.Run("TLS cookie is Secure", func(t *testing.T) {
		c, _ := newClient(t, newFakeBackend())
		c.tls = true
		r := c.post("/admin/login", url.Values{"token": {testAdminToken}})
		wantStatus(t, r, http.StatusSeeOther)
		if ck := r.Cookies()[0]; !ck.Secure {
			t.Fatalf("cookie over TLS not Secure: %+v", ck)
		}
	})
	t.Run("two sign-ins get different sessions", func(t *testing.T) {
		c1, st := newClient(t, newFakeBackend())
		c1.signIn()
		c2 := &tclient{t: t, h: c1.h}
		c2.signIn()
		if c1.cookie.Value == c2.cookie.Value {
			t.Fatal("two sign-ins share a session id")
		}
		if n := len(st.sessions); n != 2 {
			t.Fatalf("%d sessions, want 2", n)
		}
	})
}

// recordWaits replaces the handler's pauses with a record of them.
func recordWaits(st *handler) *[]time.Duration {
	var waits []time.Duration
	var mu sync.Mutex
	st.wait = func(_ context.Context, d time.Duration) bool {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return true
	}
	return &waits
}

// TestSignInThrottling: wrong admin tokens beyond the budget are answered
// after a pause, but the right token always signs in: any local process
// (all are 127.0.0.1) could otherwise lock the administrator out.
func TestSignInThrottling(t *testing.T) {
	c, st := newClient(t, newFakeBackend())
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := base
	st.now = func() time.Time { return now }
	waits := recordWaits(st)
	for i := range throttle.DefaultMax {
		r := c.post("/admin/login", url.Values{"token": {"guess"}})
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d, want 401", i+1, r.StatusCode)
		}
	}
	if len(*waits) != 0 {
		t.Fatalf("paused within the budget: %v", *waits)
	}
	// Beyond the budget a wrong token waits...
	r := c.post("/admin/login", url.Values{"token": {"guess"}})
	wantStatus(t, r, http.StatusTooManyRequests)
	if len(*waits) != 1 || (*waits)[0] <= 0 || !strings.Contains(r.body, "the right token still signs in") {
		t.Fatalf("throttled guess: waits %v, body:\n%s", *waits, r.body)
	}
	// ...the right one signs in at once, from the same address...
	c.signIn()
	if len(*waits) != 1 {
		t.Fatalf("the right token waited: %v", *waits)
	}
	// ...and does not clear the count, which would give whoever shares the
	// address a fresh budget.
	wantStatus(t, c.post("/admin/login", url.Values{"token": {"guess"}}), http.StatusTooManyRequests)

	// Another address has its own budget.
	for range throttle.DefaultMax + 1 {
		postFrom(c.h, "198.51.100.7", "guess")
	}
	if code := postFrom(c.h, "203.0.113.9", "guess"); code != http.StatusUnauthorized {
		t.Fatalf("another address was throttled too: %d", code)
	}
	// After the window the address guesses without pause again.
	now = base.Add(throttle.DefaultWindow)
	n := len(*waits)
	if code := postFrom(c.h, "198.51.100.7", "guess"); code != http.StatusUnauthorized || len(*waits) != n {
		t.Fatalf("after the window: %d, waits %v", code, *waits)
	}
}

func TestSignOut(t *testing.T) {
	c, _ := newClient(t, newFakeBackend())
	csrf := c.signIn()
	old := c.cookie
	r := c.post("/admin/logout", url.Values{"csrf": {csrf}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/admin/login?signed_out=1" {
		t.Fatalf("sign out redirects to %q", loc)
	}
	if c.cookie != nil {
		t.Fatal("sign out did not clear the cookie")
	}
	if r := c.get("/admin/login?signed_out=1"); !strings.Contains(r.body, "You have signed out.") {
		t.Fatalf("no sign-out message:\n%s", r.body)
	}
	c.cookie = old // a stolen copy of the cookie no longer works
	r = c.get("/admin")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/login" {
		t.Fatalf("old session still valid: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestSessionExpires(t *testing.T) {
	c, st := newClient(t, newFakeBackend())
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := base
	st.now = func() time.Time { return now }
	c.signIn()
	now = base.Add(sessionTTL - time.Second)
	wantStatus(t, c.get("/admin"), http.StatusOK)
	now = base.Add(sessionTTL)
	wantStatus(t, c.get("/admin"), http.StatusSeeOther)
	if len(st.sessions) != 0 {
		t.Fatalf("expired session kept: %d", len(st.sessions))
	}
}

func TestSessionTableIsBounded(t *testing.T) {
	c, st := newClient(t, newFakeBackend())
	first := &tclient{t: t, h: c.h}
	first.signIn()
	for range maxSessions + 10 {
		other := &tclient{t: t, h: c.h}
		wantStatus(t, other.post("/admin/login", url.Values{"token": {testAdminToken}}), http.StatusSeeOther)
	}
	if n := len(st.sessions); n > maxSessions {
		t.Fatalf("%d sessions, bound is %d", n, maxSessions)
	}
	// The oldest session made room for the newer ones.
	wantStatus(t, first.get("/admin"), http.StatusSeeOther)
}

func TestSecurityHeaders(t *testing.T) {
	c, _ := newClient(t, newFakeBackend())
	check := func(name string, r tresp) {
		t.Helper()
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", name, csp)
		}
		if v := r.Header.Get("X-Frame-Options"); v != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", name, v)
		}
		if v := r.Header.Get("Cache-Control"); v != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, v)
		}
		if v := r.Header.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", name, v)
		}
	}
	check("login", c.get("/admin/login"))
	check("wrong token", c.post("/admin/login", url.Values{"token": {"x"}}))
	r := c.get("/admin/nope")
	wantStatus(t, r, http.StatusNotFound)
	check("404", r)
	css := c.get("/admin/static/admin.css")
	wantStatus(t, css, http.StatusOK)
	if ct := css.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("CSS content type %q", ct)
	}
	check("css", css)
	c.signIn()
	page := c.get("/admin")
	check("admin", page)
	if strings.Contains(page.body, "<script") || strings.Contains(page.body, "http://") || strings.Contains(page.body, "https://") || strings.Contains(page.body, "style=") {
		t.Error("the page uses a script, an inline style or an outside resource")
	}
}

// actionPaths are every state-changing form of the page, with a valid body
// apart from the CSRF token.
var actionPaths = []struct {
	path string
	form url.Values
}{
	{"/admin/devices/6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01/approve", url.Values{}},
	{"/admin/devices/6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01/refuse", url.Values{}},
	{"/admin/devices/printer-lobby-01/untrust", url.Values{}},
	{"/admin/keys/default", url.Values{"active": {"on"}, "allowed_ips": {""}}},
	{"/admin/settings", url.Values{"access_token_ttl": {"2h"}}},
	{"/admin/clock", url.Values{"advance": {"61m"}}},
	{"/admin/users/alice/revoke", url.Values{}},
	{"/admin/logout", url.Values{}},
}

func TestCSRF(t *testing.T) {
	for _, a := range actionPaths {
		t.Run(strings.TrimPrefix(a.path, "/admin/"), func(t *testing.T) {
			fb := newFakeBackend()
			c, _ := newClient(t, fb)
			csrf := c.signIn()
			with := func(tok string) url.Values {
				f := url.Values{}
				for k, v := range a.form {
					f[k] = v
				}
				if tok != "" {
					f.Set("csrf", tok)
				}
				return f
			}
			wrong := csrf[:len(csrf)-1] + "A"
			if wrong == csrf {
				wrong = csrf[:len(csrf)-1] + "B"
			}
			for name, tok := range map[string]string{"missing": "", "wrong": wrong, "other session": (&tclient{t: t, h: c.h}).signIn()} {
				if tok == csrf {
					t.Fatal("test bug: wrong token equals the right one")
				}
				r := c.post(a.path, with(tok))
				if r.StatusCode != http.StatusForbidden {
					t.Fatalf("%s CSRF token: status %d, want 403", name, r.StatusCode)
				}
				if !strings.Contains(r.body, "security token") {
					t.Fatalf("%s CSRF token: unclear 403 page:\n%s", name, r.body)
				}
			}
			// Without a session at all.
			anon := &tclient{t: t, h: c.h}
			r := anon.post(a.path, with(csrf))
			wantStatus(t, r, http.StatusForbidden)
			if !strings.Contains(r.body, `href="/admin/login"`) {
				t.Fatalf("403 without a session does not offer to sign in:\n%s", r.body)
			}
			// A cross-site post is refused even with the right token.
			r = c.do("POST", a.path, with(csrf), "Sec-Fetch-Site", "cross-site")
			wantStatus(t, r, http.StatusForbidden)
			r = c.do("POST", a.path, with(csrf), "Origin", "https://evil.example")
			wantStatus(t, r, http.StatusForbidden)

			if calls := fb.Calls(); len(calls) != 0 {
				t.Fatalf("backend called despite a refused form: %s", joinCalls(calls))
			}
			// The right token goes through.
			r = c.post(a.path, with(csrf))
			wantStatus(t, r, http.StatusSeeOther)
			if a.path != "/admin/logout" && len(fb.Calls()) != 1 {
				t.Fatalf("backend calls %s, want one", joinCalls(fb.Calls()))
			}
		})
	}
}

func TestLoginRefusesCrossSitePost(t *testing.T) {
	c, _ := newClient(t, newFakeBackend())
	r := c.do("POST", "/admin/login", url.Values{"token": {testAdminToken}}, "Sec-Fetch-Site", "cross-site")
	wantStatus(t, r, http.StatusForbidden)
	if c.cookie != nil {
		t.Fatal("cross-site sign-in set a cookie")
	}
}

func TestActions(t *testing.T) {
	exp := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		path      string
		form      url.Values
		wantCall  string
		wantFlash string
		check     func(t *testing.T, fb *fakeBackend)
	}{
		{
			name: "approve", path: "/admin/devices/6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01/approve",
			wantCall:  "approve 6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01",
			wantFlash: `Approved device &#34;6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01&#34;`,
			check: func(t *testing.T, fb *fakeBackend) {
				if s := fb.status("6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01"); s != "trusted" {
					t.Fatalf("status %q", s)
				}
			},
		},
		{
			name: "refuse", path: "/admin/devices/6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01/refuse",
			wantCall: "refuse 6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01", wantFlash: "Refused device",
		},
		{
			name: "untrust", path: "/admin/devices/printer-lobby-01/untrust",
			wantCall: "untrust printer-lobby-01", wantFlash: "Untrusted device &#34;printer-lobby-01&#34;",
		},
		{
			name: "revoke", path: "/admin/users/bob/revoke",
			wantCall: "revoke bob", wantFlash: "Revoked every token of &#34;bob&#34;.",
		},
		{
			name: "clock", path: "/admin/clock", form: url.Values{"advance": {" 61m "}},
			wantCall: "advance 1h1m0s", wantFlash: "Clock advanced by 1h1m; it is now 2026-11-26 10:31:00 UTC.",
		},
		{
			name: "settings", path: "/admin/settings",
			form:     url.Values{"access_token_ttl": {"30m"}, "refresh_token_ttl": {"720h"}, "device_code_ttl": {"24h"}, "refresh_grace": {"10s"}},
			wantCall: "settings 30m0s 720h0m0s 24h0m0s 10s", wantFlash: "Saved the account lifetimes.",
		},
		{
			name: "settings, some fields", path: "/admin/settings",
			form:     url.Values{"refresh_grace": {"0s"}, "device_code_ttl": {"1h30m"}},
			wantCall: "settings 1h0m0s 2160h0m0s 1h30m0s 0s", wantFlash: "Saved the account lifetimes.",
		},
		{
			name: "key", path: "/admin/keys/default",
			form: url.Values{
				"allow_untrusted": {"on"}, "auto_trust": {"on"}, // active and allow_unauthenticated unchecked
				"expires_at":  {"2027-01-31"},
				"allowed_ips": {" 10.0.0.0/8, ,192.168.1.5 "},
				"permissions": {"login,documents"},
			},
			wantCall: "update-key default", wantFlash: "Saved key &#34;default&#34;.",
			check: func(t *testing.T, fb *fakeBackend) {
				p := fb.patches["default"]
				if p.Active == nil || *p.Active || p.AllowUnauthenticated == nil || *p.AllowUnauthenticated ||
					p.AllowUntrusted == nil || !*p.AllowUntrusted || p.AutoTrust == nil || !*p.AutoTrust {
					t.Fatalf("switches in patch: %+v", p)
				}
				if p.ExpiresAt == nil || !p.ExpiresAt.Equal(exp) {
					t.Fatalf("expiry %v, want %v", p.ExpiresAt, exp)
				}
				if p.AllowedIPs == nil || !slices.Equal(*p.AllowedIPs, []string{"10.0.0.0/8", "192.168.1.5"}) {
					t.Fatalf("allowed IPs %v", p.AllowedIPs)
				}
				if p.Permissions == nil || !slices.Equal(*p.Permissions, []string{"login", "documents"}) {
					t.Fatalf("permissions %v", p.Permissions)
				}
			},
		},
		{
			name: "key, clear lists and expiry", path: "/admin/keys/default",
			form:     url.Values{"active": {"on"}, "expires_at": {""}, "allowed_ips": {""}, "permissions": {" "}},
			wantCall: "update-key default", wantFlash: "Saved key",
			check: func(t *testing.T, fb *fakeBackend) {
				p := fb.patches["default"]
				if p.Active == nil || !*p.Active || p.ExpiresAt == nil || !p.ExpiresAt.IsZero() ||
					p.AllowedIPs == nil || len(*p.AllowedIPs) != 0 || p.Permissions == nil || len(*p.Permissions) != 0 {
					t.Fatalf("patch %+v", p)
				}
			},
		},
		{
			name: "key, only switches", path: "/admin/keys/default",
			form:     url.Values{"active": {"on"}},
			wantCall: "update-key default", wantFlash: "Saved key",
			check: func(t *testing.T, fb *fakeBackend) {
				p := fb.patches["default"]
				if p.ExpiresAt != nil || p.AllowedIPs != nil || p.Permissions != nil {
					t.Fatalf("fields absent from the form were changed: %+v", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := newFakeBackend()
			c, _ := newClient(t, fb)
			csrf := c.signIn()
			form := url.Values{"csrf": {csrf}}
			for k, v := range tt.form {
				form[k] = v
			}
			r := c.post(tt.path, form)
			wantStatus(t, r, http.StatusSeeOther)
			if loc := r.Header.Get("Location"); loc != "/admin" {
				t.Fatalf("redirect to %q, want /admin", loc)
			}
			if calls := fb.Calls(); !slices.Equal(calls, []string{tt.wantCall}) {
				t.Fatalf("backend calls %s, want [%s]", joinCalls(calls), tt.wantCall)
			}
			if tt.check != nil {
				tt.check(t, fb)
			}
			page := c.get("/admin")
			if !strings.Contains(page.body, `<p class="flash ok" role="status" id="flash">`) || !strings.Contains(page.body, tt.wantFlash) {
				t.Fatalf("page lacks flash %q:\n%s", tt.wantFlash, page.body)
			}
			if again := c.get("/admin"); strings.Contains(again.body, `id="flash"`) {
				t.Fatal("the flash message shows twice")
			}
		})
	}
}

func TestActionErrors(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		form      url.Values
		realClock bool
		failWith  error
		wantCall  bool
		wantFlash string
	}{
		{name: "bad duration", path: "/admin/settings", form: url.Values{"access_token_ttl": {"an hour"}},
			wantFlash: `access token lifetime &#34;an hour&#34; is not a Go duration`},
		{name: "zero lifetime", path: "/admin/settings", form: url.Values{"refresh_token_ttl": {"0s"}},
			wantFlash: "refresh token lifetime must be more than zero"},
		{name: "negative grace", path: "/admin/settings", form: url.Values{"refresh_grace": {"-1s"}},
			wantFlash: "refresh grace must be more than zero"},
		{name: "bad IP", path: "/admin/keys/default", form: url.Values{"allowed_ips": {"10.0.0.0/8, office"}},
			wantFlash: `&#34;office&#34; is neither an IP address nor a CIDR range`},
		{name: "bad expiry", path: "/admin/keys/default", form: url.Values{"expires_at": {"tomorrow"}},
			wantFlash: `expiry &#34;tomorrow&#34; is not a date`},
		{name: "bad advance", path: "/admin/clock", form: url.Values{"advance": {"61"}},
			wantFlash: `Clock not moved: &#34;61&#34; is not a Go duration`},
		{name: "backwards", path: "/admin/clock", form: url.Values{"advance": {"-5m"}},
			wantFlash: "the clock only moves forward"},
		{name: "real clock", path: "/admin/clock", form: url.Values{"advance": {"5m"}}, realClock: true,
			wantFlash: "Start it with --fake-clock"},
		{name: "backend error", path: "/admin/devices/printer-lobby-01/untrust", failWith: errors.New("store is read-only"), wantCall: true,
			wantFlash: `Could not untrust device &#34;printer-lobby-01&#34;: store is read-only`},
		{name: "unknown device", path: "/admin/devices/ghost/approve", wantCall: true,
			wantFlash: `Could not approve device &#34;ghost&#34;: no such device`},
		{name: "key backend error", path: "/admin/keys/nokey", form: url.Values{"active": {"on"}}, wantCall: true,
			wantFlash: `Key &#34;nokey&#34; not saved: no such key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := newFakeBackend()
			fb.fake = !tt.realClock
			fb.failNext = tt.failWith
			c, _ := newClient(t, fb)
			csrf := c.signIn()
			form := url.Values{"csrf": {csrf}}
			for k, v := range tt.form {
				form[k] = v
			}
			r := c.post(tt.path, form)
			wantStatus(t, r, http.StatusSeeOther)
			if calls := fb.Calls(); (len(calls) != 0) != tt.wantCall {
				t.Fatalf("backend calls %s; want a call: %v", joinCalls(calls), tt.wantCall)
			}
			page := c.get("/admin")
			if !strings.Contains(page.body, `<p class="flash error" role="alert" id="flash">`) || !strings.Contains(page.body, tt.wantFlash) {
				t.Fatalf("page lacks error %q:\n%s", tt.wantFlash, page.body)
			}
		})
	}
}

func TestPageContent(t *testing.T) {
	fb := newFakeBackend()
	fb.devices = append(fb.devices, Device{ClientID: "odd/id with space", ClientType: "server",
		Description: `<script>alert("x")</script>`, Status: "pending", RegisteredAt: fb.now.Add(-time.Hour)})
	fb.keys = append(fb.keys, Key{Name: "kiosk", Type: "embedded", Active: false, AllowUntrusted: true,
		ExpiresAt: fb.now.Add(-time.Hour), AllowedIPs: []string{"10.0.0.0/8", "192.168.1.5"}, Permissions: []string{"login"}})
	fb.settings.RefreshGrace = 90 * time.Second
	c, _ := newClient(t, fb)
	c.signIn()
	page := c.get("/admin").body

	section := func(id string) string {
		i := strings.Index(page, `<section id="`+id+`"`)
		if i < 0 {
			t.Fatalf("no section %q", id)
		}
		rest := page[i:]
		return rest[:strings.Index(rest, "</section>")]
	}
	contains := func(where, s string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(s, w) {
				t.Errorf("%s lacks %q", where, w)
			}
		}
	}
	pending := section("pending")
	contains("pending", pending,
		"<h2 id=\"pending-h\">Pending devices</h2>",
		"<code>6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01</code>", "desktop_client", "QA laptop, build agent 3",
		`datetime="2026-11-26T09:26:00Z"`, "2026-11-26 09:26:00 UTC", `<span class="muted age">4 min ago</span>`,
		`action="/admin/devices/6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01/approve"`,
		`action="/admin/devices/6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01/refuse"`,
		`<button type="submit" class="approve">Approve<span class="vh"> device 6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01</span></button>`,
		`&lt;script&gt;`,
		`action="/admin/devices/odd%2Fid%20with%20space/approve"`)
	if strings.Contains(page, "<script>") {
		t.Error("a device description is not escaped")
	}
	trusted := section("trusted")
	contains("trusted", trusted, "printer-lobby-01", "Lobby printer, 2nd floor", "26 h ago", `action="/admin/devices/printer-lobby-01/untrust"`)
	if strings.Contains(trusted, "Approve") || strings.Contains(pending, "printer-lobby-01") {
		t.Error("trusted device in the wrong table")
	}
	refused := section("refused")
	contains("refused", refused, "unknown-kiosk", "3 days ago")
	if strings.Contains(refused, "<button") {
		t.Error("refused devices have buttons")
	}
	keys := section("keys")
	contains("keys", keys,
		`action="/admin/keys/default"`, `action="/admin/keys/kiosk"`,
		`id="key0-active" name="active" value="on" checked>`,
		`id="key0-untrusted" name="allow_untrusted" value="on">`,
		`id="key1-active" name="active" value="on">`,
		`id="key1-untrusted" name="allow_untrusted" value="on" checked>`,
		`<span class="badge off">inactive</span>`, `<span class="badge warn">expired</span>`,
		`value="2026-11-26T08:30:00Z"`, `value="10.0.0.0/8, 192.168.1.5"`, `name="permissions" type="text" value="login"`)
	contains("lifetimes", section("lifetimes"), `name="access_token_ttl" type="text" value="1h"`,
		`name="refresh_token_ttl" type="text" value="2160h"`, `name="device_code_ttl" type="text" value="72h"`,
		`name="refresh_grace" type="text" value="1m30s"`)
	contains("clock", section("clock"), "2026-11-26 09:30:00 UTC", `name="advance"`, "Advance clock")
	users := section("users")
	contains("users", users, "alice", "Alice Liddell", "carol@example.com", `<span class="badge">admin</span>`,
		`action="/admin/users/bob/revoke"`)

	// Every visible input has a label, every form posts with a CSRF token.
	for _, m := range regexp.MustCompile(`<input ([^>]*)>`).FindAllStringSubmatch(page, -1) {
		attrs := m[1]
		if strings.Contains(attrs, `type="hidden"`) {
			continue
		}
		id := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(attrs)
		if id == nil || !strings.Contains(page, `<label for="`+id[1]+`"`) {
			t.Errorf("input without a label: <input %s>", attrs)
		}
	}
	forms := regexp.MustCompile(`(?s)<form [^>]*>.*?</form>`).FindAllString(page, -1)
	if len(forms) < 10 {
		t.Fatalf("only %d forms", len(forms))
	}
	for _, f := range forms {
		if !strings.HasPrefix(f, `<form method="post"`) && !strings.Contains(f[:60], `method="post"`) || !strings.Contains(f, `name="csrf"`) {
			t.Errorf("form is not a POST with a CSRF token: %.120s", f)
		}
	}

	// Without a fake clock there is no advance control.
	fb.fake = false
	if s := c.get("/admin").body; strings.Contains(s, `name="advance"`) || !strings.Contains(s, "--fake-clock") {
		t.Error("the advance control shows on a real clock")
	}
}

func TestEscapedPathIDsReachTheBackend(t *testing.T) {
	fb := newFakeBackend()
	const id = "odd/id with space?#%"
	fb.devices = []Device{{ClientID: id, ClientType: "server", Status: "pending", RegisteredAt: fb.now}}
	fb.users = []User{{Username: "d'Artagnan/x"}}
	c, _ := newClient(t, fb)
	csrf := c.signIn()
	page := c.get("/admin").body
	for _, re := range []string{`action="(/admin/devices/[^"]+/approve)"`, `action="(/admin/users/[^"]+/revoke)"`} {
		m := regexp.MustCompile(re).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no form matching %s", re)
		}
		wantStatus(t, c.post(html.UnescapeString(m[1]), url.Values{"csrf": {csrf}}), http.StatusSeeOther)
	}
	want := []string{"approve " + id, "revoke d'Artagnan/x"}
	if calls := fb.Calls(); !slices.Equal(calls, want) {
		t.Fatalf("calls %s, want %s", joinCalls(calls), joinCalls(want))
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	c, _ := newClient(t, newFakeBackend())
	c.signIn()
	r := c.get("/admin/devices/x/approve")
	if r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET on an action: %d", r.StatusCode)
	}
	wantStatus(t, c.get("/admin/unknown"), http.StatusNotFound)
}

func TestHelpers(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", time.Hour: "1h", 90 * time.Minute: "1h30m", 2160 * time.Hour: "2160h",
		90 * time.Second: "1m30s", 61 * time.Minute: "1h1m", 10 * time.Second: "10s", time.Hour + time.Second: "1h0m1s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(shortDuration(d)); err != nil || back != d {
			t.Errorf("shortDuration(%v) does not parse back: %v %v", d, back, err)
		}
	}
	for d, want := range map[time.Duration]string{
		-time.Second: "in the future", 30 * time.Second: "just now", 5 * time.Minute: "5 min ago",
		3 * time.Hour: "3 h ago", 47 * time.Hour: "47 h ago", 72 * time.Hour: "3 days ago",
	} {
		if got := roughAge(d); got != want {
			t.Errorf("roughAge(%v) = %q, want %q", d, got, want)
		}
	}
	for in, want := range map[string]time.Time{
		"":                          {},
		"2027-01-31":                time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
		"2027-01-31T12:00":          time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC),
		"2027-01-31T12:00:00+02:00": time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC),
	} {
		got, err := parseExpiry(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
