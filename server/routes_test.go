package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRoutesMethodNotAllowed asks every endpoint with a method it does not
// allow: a JSON 405 whose Allow header lists the methods it does allow (GET
// allows HEAD too).
func TestRoutesMethodNotAllowed(t *testing.T) {
	s := newTestServer(t)
	admin := map[string]string{"Authorization": "Bearer " + s.AdminToken()}
	cases := []struct {
		method, path, allow string
		headers             map[string]string
	}{
		{"POST", "/healthz", "GET, HEAD", nil},
		{"GET", "/oauth/v1/register", "POST", nil},
		{"PUT", "/oauth/v1/token", "POST", nil},
		{"DELETE", "/api/v1/login", "GET, HEAD, POST", nil},
		{"POST", "/api/v1/version", "GET, HEAD", nil},
		{"PUT", "/api/v1/account", "GET, HEAD", nil},
		{"POST", "/api/v1/users/all", "DELETE, GET, HEAD", nil},
		{"DELETE", "/api/v1/users", "GET, HEAD, PUT", nil},
		{"GET", "/api/v1/users/bob", "DELETE", nil},
		{"GET", "/api/v1/documents", "PUT", nil},
		{"PUT", "/api/v1/documents/history", "GET, HEAD", nil},
		{"POST", "/admin/api/devices", "GET, HEAD", admin},
		{"GET", "/admin/api/devices/d1/approve", "POST", admin},
		{"DELETE", "/admin/api/devices/d1/refuse", "POST", admin},
		{"POST", "/admin/api/devices/d1", "DELETE", admin},
		{"PATCH", "/admin/api/keys", "GET, HEAD", admin},
		{"GET", "/admin/api/keys/demo", "PATCH", admin},
		{"PUT", "/admin/api/settings", "GET, HEAD, PATCH", admin},
		{"GET", "/admin/api/revoke", "POST", admin},
		{"DELETE", "/admin/api/clock", "GET, HEAD, POST", admin},
		{"PATCH", "/admin/api/faults", "DELETE, GET, HEAD, POST", admin},
		{"GET", "/admin/api/reset", "POST", admin},
	}
	for _, c := range cases {
		r := do(t, s, req{method: c.method, path: c.path, headers: c.headers})
		if r.Code != http.StatusMethodNotAllowed || r.errCode(t) != "method_not_allowed" || r.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q: %s", c.method, c.path, r.Code, r.Header.Get("Allow"), c.allow, r.Body)
			continue
		}
		if desc := r.json(t)["error_description"].(string); !strings.Contains(desc, c.method) || !strings.Contains(desc, c.allow) {
			t.Errorf("%s %s: description %q does not say what is allowed", c.method, c.path, desc)
		}
		if r.Header.Get("X-Content-Type-Options") != "" {
			t.Errorf("%s %s: the mux's plain-text headers leaked: %v", c.method, c.path, r.Header)
		}
	}
}

// TestRoutesNotFound asks paths no endpoint serves, among them trailing
// slashes and paths that are not clean: a JSON 404, never a redirect.
func TestRoutesNotFound(t *testing.T) {
	s := newTestServer(t)
	admin := map[string]string{"Authorization": "Bearer " + s.AdminToken()}
	for _, p := range []string{
		"/", "/nothing", "/api", "/api/v1", "/api/v1/", "/api/v1/printers", "/api/v1/version/", "/api/v1/users/",
		"/api/v1/users/bob/", "/api/v1/users/all/x", "/oauth/v1/", "/oauth/v1/token/", "/healthz/", "/admin/api", "/admin/api/",
		"/admin/api/nothing", "/admin/api/devices/", "/admin/api/devices/d1/approve/", "/admin/api/devices/d1/x", "/admin/api/keys/",
		"/api/v1//version", "/api/v1/./version", "/api/v1/x/../version", "//api/v1/version", "/admin/api//devices",
		"/admin/api/devices/d1/../../keys",
	} {
		for _, method := range []string{"GET", "POST", "DELETE"} {
			r := do(t, s, req{method: method, path: p, headers: admin})
			if r.Code != http.StatusNotFound || r.errCode(t) != "not_found" || r.Header.Get("Location") != "" {
				t.Errorf("%s %s: %d Location %q, want a JSON 404: %s", method, p, r.Code, r.Header.Get("Location"), r.Body)
			}
		}
	}
	// The server reads the path as sent: OPTIONS * is not found either.
	r := do(t, s, req{method: "OPTIONS", path: "*"})
	if r.Code != http.StatusNotFound || r.errCode(t) != "not_found" {
		t.Errorf("OPTIONS *: %d %s", r.Code, r.Body)
	}
	// The OAuth-only handler serves nothing else.
	for _, p := range []string{"/api/v1/version", "/admin", "/admin/api/devices", "/oauth/v1/x"} {
		r := do(t, s.OAuthHandler(), req{method: "GET", path: p, headers: admin})
		if r.Code != http.StatusNotFound || r.errCode(t) != "not_found" {
			t.Errorf("OAuth handler GET %s: %d %s", p, r.Code, r.Body)
		}
	}
	if r := do(t, s.OAuthHandler(), req{method: "GET", path: "/oauth/v1/token"}); r.Code != 405 || r.Header.Get("Allow") != "POST" {
		t.Errorf("OAuth handler GET /oauth/v1/token: %d %q", r.Code, r.Header.Get("Allow"))
	}
}

// TestRoutesAdminTokenFirst: without the admin token every admin API path,
// known or not, with any method, answers 401, so nobody learns the
// endpoints by probing.
func TestRoutesAdminTokenFirst(t *testing.T) {
	s := newTestServer(t)
	s.adminGuard.Delay = time.Nanosecond // the guesses here are many
	for _, p := range []string{"/admin/api", "/admin/api/", "/admin/api/nothing", "/admin/api/devices", "/admin/api/reset", "/admin/api/devices/d1/approve"} {
		for _, method := range []string{"GET", "POST", "PUT"} {
			r := do(t, s, req{method: method, path: p, headers: map[string]string{"Authorization": "Bearer wrong"}})
			if r.Code != http.StatusUnauthorized || r.errCode(t) != "invalid_token" {
				t.Errorf("%s %s: %d %s", method, p, r.Code, r.Body)
			}
		}
	}
}

// TestRoutesEncodedSlash: an identifier with a slash goes into one path
// segment escaped as %2F (as the client and scenarios send it); unescaped,
// its parts are separate segments and the path is not found.
func TestRoutesEncodedSlash(t *testing.T) {
	s := permissive(t)
	d := newTestDevice("lab/printer-1")
	code := d.register(t, s)
	if r := adminDo(t, s, "POST", "/admin/api/devices/lab/printer-1/approve", ""); r.Code != http.StatusNotFound || r.errCode(t) != "not_found" {
		t.Fatalf("unescaped: %d %s", r.Code, r.Body)
	}
	if r := adminDo(t, s, "POST", "/admin/api/devices/"+url.PathEscape(d.id)+"/approve", ""); r.Code != 200 {
		t.Fatalf("approve %s: %d %s", url.PathEscape(d.id), r.Code, r.Body)
	}
	if r := d.poll(t, s, code); r.Code != 200 {
		t.Fatalf("the approved device cannot exchange its code: %d %s", r.Code, r.Body)
	}
	if r := adminDo(t, s, "DELETE", "/admin/api/devices/lab%2Fprinter-1", ""); r.Code != 200 {
		t.Fatalf("untrust: %d %s", r.Code, r.Body)
	}
	if r := adminDo(t, s, "DELETE", "/admin/api/devices/lab%2Fprinter-1", ""); r.Code != 404 || !strings.Contains(string(r.Body), `lab/printer-1`) {
		t.Fatalf("untrust again: %d %s", r.Code, r.Body)
	}
	// A user name reaches the handler unescaped.
	at, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	r := call(t, s, "DELETE", "/api/v1/users/no%2Fbody", at)
	if r.Code != 404 || !strings.Contains(string(r.Body), `no user \"no/body\"`) {
		t.Errorf("DELETE no%%2Fbody: %d %s", r.Code, r.Body)
	}
}

// TestRoutesHead: HEAD is GET without a body wherever GET is allowed, and
// HEAD /api/v1/account needs no key.
func TestRoutesHead(t *testing.T) {
	s := newTestServer(t)
	for _, c := range []struct {
		path string
		code int
	}{{"/healthz", 200}, {"/api/v1/account", 200}, {"/api/v1/version", 403}} {
		if r := do(t, s, req{method: "HEAD", path: c.path}); r.Code != c.code {
			t.Errorf("HEAD %s: %d, want %d", c.path, r.Code, c.code)
		}
	}
}
