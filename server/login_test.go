package server

import (
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestLoginPostAndGet(t *testing.T) {
	s := newTestServer(t)
	dt, _ := trustedDevice(t, s, newTestDevice("lg"))
	r := login(t, s, dt, pw("alice", "wonderland"))
	if r.Code != 200 {
		t.Fatalf("POST: %d %s", r.Code, r.Body)
	}
	tok, ok := r.json(t)["token"].(map[string]any)
	if !ok || tok["token_type"] != "Bearer" || tok["expires_in"].(float64) != 3600 || tok["access_token"] == "" || tok["refresh_token"] == "" {
		t.Fatalf("answer %s", r.Body)
	}
	g := do(t, s, req{method: "GET", path: "/api/v1/login?" + pw("bob", "builder").Encode(),
		headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + dt}})
	if g.Code != 200 {
		t.Fatalf("GET: %d %s", g.Code, g.Body)
	}
	if r := login(t, s, dt, pw("alice", "wrong")); r.Code != 401 || r.errCode(t) != "invalid_credentials" {
		t.Fatalf("bad password: %d %s", r.Code, r.Body)
	}
	if r := login(t, s, dt, pw("nobody", "x")); r.Code != 401 || r.errCode(t) != "invalid_credentials" {
		t.Fatalf("unknown user: %d %s", r.Code, r.Body)
	}
}

func TestLoginAuthtypes(t *testing.T) {
	cred := func(at, id string) url.Values { return url.Values{"authtype": {at}, "userid": {id}} }
	cases := []struct {
		name    string
		unauth  bool // key allows unauthenticated requests
		device  bool // a trusted device token is sent
		form    url.Values
		code    int
		errCode string
	}{
		{"password", false, true, pw("alice", "wonderland"), 200, ""},
		{"card with trusted device", false, true, cred("1", "CARD-0001"), 200, ""},
		{"short id with trusted device", false, true, cred("2", "1001"), 200, ""},
		{"username only refused", false, true, cred("3", "alice"), 403, "insecure_credentials_not_allowed"},
		{"email refused", false, true, cred("4", "alice@example.com"), 403, "insecure_credentials_not_allowed"},
		{"card without device", false, false, cred("1", "CARD-0001"), 403, "insecure_credentials_not_allowed"},
		{"card, unauthenticated allowed", true, false, cred("1", "CARD-0002"), 200, ""},
		{"username, unauthenticated allowed", true, false, cred("3", "bob"), 200, ""},
		{"email, unauthenticated allowed", true, false, cred("4", "CAROL@example.com"), 200, ""},
		{"unknown card", true, false, cred("1", "CARD-9999"), 401, "invalid_credentials"},
		{"authtype 5", true, true, cred("5", "alice"), 400, "invalid_request"},
		{"authtype text", true, true, cred("x", "alice"), 400, "invalid_request"},
		{"missing userid", true, true, url.Values{"authtype": {"0"}, "password": {"p"}}, 400, "invalid_request"},
		{"missing password", true, true, cred("0", "alice"), 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestServer(t, withKey(func(k *Key) { k.AllowUnauthenticated = c.unauth; k.AllowUntrusted = !c.device }))
			dt := ""
			if c.device {
				dt, _ = trustedDevice(t, s, newTestDevice("at"))
			}
			r := login(t, s, dt, c.form)
			if r.Code != c.code {
				t.Fatalf("code %d, want %d: %s", r.Code, c.code, r.Body)
			}
			if c.errCode != "" && r.errCode(t) != c.errCode {
				t.Fatalf("error %q, want %q", r.errCode(t), c.errCode)
			}
		})
	}
}

func TestLoginDeviceToken(t *testing.T) {
	s := newTestServer(t)
	d := newTestDevice("ld")
	dt, _ := trustedDevice(t, s, d)
	at, _ := userToken(t, s, dt, "alice", "wonderland")
	cases := []struct {
		name, token, errCode string
	}{
		{"missing", "", "device_token_required"},
		{"unknown", "garbage", "untrusted_device"},
		{"user token is not a device token", at, "untrusted_device"},
	}
	for _, c := range cases {
		if r := login(t, s, c.token, pw("alice", "wonderland")); r.Code != 403 || r.errCode(t) != c.errCode {
			t.Errorf("%s: %d %s", c.name, r.Code, r.Body)
		}
	}
	// Expired device token.
	advance(t, s, time.Hour)
	if r := login(t, s, dt, pw("alice", "wonderland")); r.Code != 403 || r.errCode(t) != "untrusted_device" {
		t.Errorf("expired device token: %d %s", r.Code, r.Body)
	}
	// A refused device's token stops working.
	dt2, _ := trustedDevice(t, s, newTestDevice("ld2"))
	adminDo(t, s, "POST", "/admin/api/devices/ld2/refuse", "")
	if r := login(t, s, dt2, pw("alice", "wonderland")); r.Code != 403 {
		t.Errorf("refused device: %d %s", r.Code, r.Body)
	}
	// With allow_untrusted, no device token is needed.
	s2 := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	if r := login(t, s2, "", pw("alice", "wonderland")); r.Code != 200 {
		t.Errorf("untrusted allowed: %d %s", r.Code, r.Body)
	}
}

func TestLoginThrottling(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	for i := 0; i < 5; i++ {
		if r := login(t, s, "", pw("alice", "bad")); r.Code != 401 {
			t.Fatalf("failure %d: %d", i, r.Code)
		}
		advance(t, s, time.Minute)
	}
	r := login(t, s, "", pw("alice", "wonderland"))
	if r.Code != 429 || r.errCode(t) != "too_many_attempts" {
		t.Fatalf("sixth attempt: %d %s", r.Code, r.Body)
	}
	// The first failure was 5 minutes ago: 10 minutes remain.
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra != 600 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// The userid is compared without case.
	if r := login(t, s, "", pw("ALICE", "wonderland")); r.Code != 429 || r.errCode(t) != "too_many_attempts" {
		t.Fatalf("the same userid in capitals: %d %s", r.Code, r.Body)
	}
	// Other users are not affected.
	if r := login(t, s, "", pw("bob", "builder")); r.Code != 200 {
		t.Fatalf("bob: %d", r.Code)
	}
	advance(t, s, 10*time.Minute)
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 200 {
		t.Fatalf("after the window: %d %s", r.Code, r.Body)
	}
	// A success resets the count.
	for i := 0; i < 4; i++ {
		login(t, s, "", pw("alice", "bad"))
	}
	login(t, s, "", pw("alice", "wonderland"))
	for i := 0; i < 4; i++ {
		login(t, s, "", pw("alice", "bad"))
	}
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 200 {
		t.Fatalf("count not reset by success: %d", r.Code)
	}
}
