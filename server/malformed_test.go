package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestMalformedRequests(t *testing.T) {
	s := permissive(t)
	at, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	form := "application/x-www-form-urlencoded"
	key := map[string]string{"X-Api-Key": testKey}
	auth := map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + at}
	big := strings.Repeat("a", 1<<20+10)
	cases := []struct {
		name string
		q    req
		code int
	}{
		{"bad form encoding", req{method: "POST", path: "/oauth/v1/token", body: "grant_type=%zz", ctype: form}, 400},
		{"semicolon form", req{method: "POST", path: "/oauth/v1/token", body: "a=1;b=2", ctype: form}, 400},
		{"duplicated grant", req{method: "POST", path: "/oauth/v1/token", body: "grant_type=refresh_token&grant_type=device_code", ctype: form}, 400},
		{"no content type", req{method: "POST", path: "/oauth/v1/token", body: "grant_type=refresh_token"}, 400},
		{"json body", req{method: "POST", path: "/oauth/v1/token", body: `{"grant_type":"refresh_token"}`, ctype: "application/json"}, 400},
		{"bad media type", req{method: "POST", path: "/oauth/v1/register", body: "a=b", ctype: "appl;;ication"}, 400},
		{"oversized oauth body", req{method: "POST", path: "/oauth/v1/register", body: "client_id=" + big, ctype: form}, 400},
		{"oversized login body", req{method: "POST", path: "/api/v1/login", body: "userid=" + big, ctype: form, headers: key}, 400},
		{"oversized admin body", req{method: "PATCH", path: "/admin/api/settings", body: big, ctype: "application/json", headers: map[string]string{"Authorization": "Bearer admin-secret"}}, 400},
		{"login bad encoding", req{method: "POST", path: "/api/v1/login", body: "authtype=%", ctype: form, headers: key}, 400},
		{"login GET bad query", req{method: "GET", path: "/api/v1/login?authtype=%zz", headers: key}, 400},
		{"login duplicated userid", req{method: "POST", path: "/api/v1/login", body: "authtype=0&userid=a&userid=b&password=x", ctype: form, headers: key}, 400},
		{"login wrong content type", req{method: "POST", path: "/api/v1/login", body: "authtype=0", ctype: "text/plain", headers: key}, 400},
		{"login method", req{method: "DELETE", path: "/api/v1/login", headers: key}, 405},
		{"unknown function", req{method: "GET", path: "/api/v1/printers", headers: auth}, 404},
		{"unknown path", req{method: "GET", path: "/nothing"}, 404},
		{"users bad multipart", req{method: "PUT", path: "/api/v1/users", body: "--x\r\nbroken", ctype: "multipart/form-data; boundary=x", headers: auth}, 400},
		{"document bad multipart", req{method: "PUT", path: "/api/v1/documents", body: "--x\r\nbroken", ctype: "multipart/form-data; boundary=x", headers: auth}, 400},
		{"document no boundary", req{method: "PUT", path: "/api/v1/documents", body: "x", ctype: "multipart/form-data", headers: auth}, 400},
		{"two api keys", req{method: "GET", path: "/api/v1/version", headers: map[string]string{"X-Api-Key": testKey + "\x00"}}, 403},
		{"empty bearer", req{method: "GET", path: "/api/v1/version", headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer "}}, 401},
		{"admin bad json", req{method: "POST", path: "/admin/api/revoke", body: `{"username":`, ctype: "application/json", headers: map[string]string{"Authorization": "Bearer admin-secret"}}, 400},
		{"admin trailing json", req{method: "POST", path: "/admin/api/revoke", body: `{"username":"alice"} {}`, ctype: "application/json", headers: map[string]string{"Authorization": "Bearer admin-secret"}}, 400},
		{"bad signature header", req{method: "POST", path: "/oauth/v1/register", body: regForm("m1").Encode(), ctype: form, headers: map[string]string{signatureHeader: "!!"}}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, s, c.q)
			if r.Code != c.code {
				t.Fatalf("code %d, want %d: %.200s", r.Code, c.code, r.Body)
			}
			// Malformed requests are invalid_request; the other refusals
			// keep the code of their own rule.
			want := map[int]string{400: "invalid_request", 401: "invalid_token", 403: "invalid_api_key", 404: "not_found", 405: "method_not_allowed"}[r.Code]
			if r.Code >= 400 && r.errCode(t) != want {
				t.Fatalf("error %q, want %q: %s", r.errCode(t), want, r.Body)
			}
		})
	}
	// A document without a boundary is told what it must be, not that it
	// should be urlencoded.
	if r := do(t, s, req{method: "PUT", path: "/api/v1/documents", body: "x", ctype: "multipart/form-data", headers: auth}); !strings.Contains(string(r.Body), "multipart/form-data with a boundary") {
		t.Errorf("document without boundary: %s", r.Body)
	}
	// Two X-Api-Key headers.
	rr := do(t, s, req{method: "GET", path: "/api/v1/version", repeat: http.Header{"X-Api-Key": {testKey, testKey}}})
	if rr.Code != 400 || rr.errCode(t) != "invalid_request" {
		t.Errorf("two keys: %d", rr.Code)
	}
	if rr := do(t, s, req{method: "POST", path: "/oauth/v1/token", body: url.Values{"grant_type": {"refresh_token"}}.Encode(), ctype: form,
		repeat: http.Header{signatureHeader: {"a", "b"}}}); rr.Code != 400 || rr.errCode(t) != "invalid_request" {
		t.Errorf("two signatures: %d", rr.Code)
	}
}

// TestNoSecretsInLogs runs a login, a refresh and a registration with a
// logger and checks no token, password or key appears in the log.
func TestNoSecretsInLogs(t *testing.T) {
	var buf bytes.Buffer
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	d := newTestDevice("logdev")
	dt, drt := trustedDevice(t, s, d)
	at, rt := userToken(t, s, "", "alice", "wonderland")
	g := do(t, s, req{method: "GET", path: "/api/v1/login?" + pw("bob", "builder").Encode(), headers: map[string]string{"X-Api-Key": testKey}})
	refresh(t, s, "api", rt)
	refresh(t, s, "api", rt) // reuse: logs a warning
	logs := buf.String()
	if !strings.Contains(logs, "path=/api/v1/login") || !strings.Contains(logs, "status=200") || !strings.Contains(logs, "duration=") {
		t.Fatalf("request log missing: %s", logs)
	}
	bt := g.json(t)["token"].(map[string]any)["access_token"].(string)
	for _, secret := range []string{dt, drt, at, rt, bt, "wonderland", "builder", testKey, s.AdminToken()} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds a secret %q", secret[:4])
		}
	}
}
