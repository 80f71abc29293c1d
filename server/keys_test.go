package server

import (
	"net/http"
	"testing"
	"time"
)

// withKey changes the demo key before the server starts.
func withKey(f func(*Key)) func(*Options) {
	return func(o *Options) {
		a := DemoAccount()
		f(&a.Keys[0])
		o.Account = a
	}
}

func TestAPIKeyRules(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func(o *Options) { o.Now = func() time.Time { return base } }
	cases := []struct {
		name    string
		mod     func(*Key)
		key     string
		remote  string
		headers map[string]string
		path    string
		code    int
		errCode string
	}{
		{name: "missing key", key: "-", code: 403, errCode: "invalid_api_key"},
		{name: "unknown key", key: "nope", code: 403, errCode: "invalid_api_key"},
		{name: "inactive key", mod: func(k *Key) { k.Active = false }, code: 403, errCode: "invalid_api_key"},
		{name: "expired key", mod: func(k *Key) { k.ExpiresAt = "2029-12-31T23:59:59Z" }, code: 403, errCode: "invalid_api_key"},
		{name: "unexpired key", mod: func(k *Key) { k.ExpiresAt = "2030-01-01T00:00:01Z" }, code: 200},
		{name: "ip outside range", mod: func(k *Key) { k.AllowedIPs = []string{"10.0.0.0/8"} }, remote: "192.0.2.1:5000", code: 403, errCode: "invalid_api_key"},
		{name: "ip inside range", mod: func(k *Key) { k.AllowedIPs = []string{"10.0.0.0/8"} }, remote: "10.1.2.3:5000", code: 200},
		{name: "single ip", mod: func(k *Key) { k.AllowedIPs = []string{"10.1.2.3"} }, remote: "10.1.2.3:5000", code: 200},
		{name: "x-forwarded-for ignored", mod: func(k *Key) { k.AllowedIPs = []string{"10.0.0.0/8"} }, remote: "192.0.2.1:5000",
			headers: map[string]string{"X-Forwarded-For": "10.1.1.1", "X-Real-Ip": "10.1.1.1"}, code: 403, errCode: "invalid_api_key"},
		{name: "permission granted", mod: func(k *Key) { k.Permissions = []string{"version"} }, code: 200},
		{name: "permission denied", mod: func(k *Key) { k.Permissions = []string{"users"} }, code: 403, errCode: "permission_denied"},
		// §5.1: the checks run in the order key, permission, token.
		{name: "key before token", key: "nope", path: "/api/v1/version", headers: map[string]string{"Authorization": "Bearer not-a-token"}, code: 403, errCode: "invalid_api_key"},
		{name: "permission before token", mod: func(k *Key) { k.Permissions = []string{"users"} }, path: "/api/v1/version",
			headers: map[string]string{"Authorization": "Bearer not-a-token"}, code: 403, errCode: "permission_denied"},
		{name: "no token, switch off", path: "/api/v1/version", key: DemoKeyValue, code: 403, errCode: "token_required"},
		{name: "no token, unauthenticated allowed", mod: func(k *Key) { k.AllowUnauthenticated = true }, path: "/api/v1/version", key: DemoKeyValue, code: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mods := []func(*Options){clock}
			if c.mod != nil {
				mods = append(mods, withKey(c.mod))
			}
			s := newTestServer(t, append(mods, func(o *Options) { o.FakeClock = false })...)
			// Log in through a key that allows untrusted endpoints only for
			// the cases that need a user token.
			h := map[string]string{}
			for k, v := range c.headers {
				h[k] = v
			}
			path := c.path
			if path == "" {
				path = "/api/v1/version"
				// A valid user token from a permissive twin server is not
				// usable here; instead log in on this server directly.
				tok := loginUntrusted(t, s)
				if tok != "" {
					h["Authorization"] = "Bearer " + tok
				}
			}
			switch c.key {
			case "":
				h["X-Api-Key"] = DemoKeyValue
			case "-":
			default:
				h["X-Api-Key"] = c.key
			}
			r := do(t, s, req{method: "GET", path: path, headers: h, remote: c.remote})
			if r.Code != c.code {
				t.Fatalf("code %d, want %d: %s", r.Code, c.code, r.Body)
			}
			if c.errCode != "" && r.errCode(t) != c.errCode {
				t.Fatalf("error %q, want %q", r.errCode(t), c.errCode)
			}
		})
	}
}

// loginUntrusted gets a user token for alice by switching the key to allow
// untrusted endpoints for one login (through the admin API), then switching
// it back. It returns "" when the key does not let the login through.
func loginUntrusted(t *testing.T, s *Server) string {
	t.Helper()
	s.mu.Lock()
	k := s.st.keys[0]
	saved := *k
	k.AllowUntrusted, k.Active, k.expires, k.prefixes, k.Permissions = true, true, time.Time{}, nil, nil
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		*k = saved
		s.mu.Unlock()
	}()
	r := login(t, s, "", pw("alice", "wonderland"))
	if r.Code != http.StatusOK {
		return ""
	}
	return r.json(t)["token"].(map[string]any)["access_token"].(string)
}

func TestUserTokenBoundToKey(t *testing.T) {
	a := DemoAccount()
	a.Keys[0].AllowUntrusted = true
	a.Keys = append(a.Keys, Key{Name: "other", Value: "other-key", Type: "general", Active: true, AllowUntrusted: true})
	s := newTestServer(t, func(o *Options) { o.Account = a })
	at, rt := userToken(t, s, "", "alice", "wonderland")
	r := do(t, s, req{method: "GET", path: "/api/v1/version", headers: map[string]string{"X-Api-Key": "other-key", "Authorization": "Bearer " + at}})
	if r.Code != 403 || r.errCode(t) != "key_mismatch" {
		t.Fatalf("other key: %d %s", r.Code, r.Body)
	}
	if r := call(t, s, "GET", "/api/v1/version", at); r.Code != 200 {
		t.Fatalf("own key: %d %s", r.Code, r.Body)
	}
	// Refreshing through another key is refused too.
	r = postForm(t, s, "/oauth/v1/token", map[string][]string{"client_id": {"api"}, "client_secret": {"other-key"}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}, nil)
	if r.Code != 400 || r.errCode(t) != "invalid_grant" {
		t.Fatalf("refresh through other key: %d %s", r.Code, r.Body)
	}
}

func TestSwitchesDefaultOff(t *testing.T) {
	s := newTestServer(t)
	// allow_untrusted off: login needs a device token.
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 403 || r.errCode(t) != "device_token_required" {
		t.Errorf("login without device token: %d %s", r.Code, r.Body)
	}
	// allow_unauthenticated off: no token means 403.
	if r := call(t, s, "GET", "/api/v1/users/all", ""); r.Code != 403 {
		t.Errorf("call without token: %d %s", r.Code, r.Body)
	}
	// auto_trust off: a new device waits.
	d := newTestDevice("waiting")
	code := d.register(t, s)
	if r := d.poll(t, s, code); r.Code != 400 || r.errCode(t) != "authorization_pending" {
		t.Errorf("poll: %d %s", r.Code, r.Body)
	}
}
