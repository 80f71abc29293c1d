package server

import "testing"

// TestWalkthrough is the newcomer's path: register a device with a signed
// request, approve it, get the device token, log in as alice, call a
// function, refresh the user token.
func TestWalkthrough(t *testing.T) {
	s := newTestServer(t)
	dev := newTestDevice("dev-1")
	dt, _ := trustedDevice(t, s, dev)
	at, rt := userToken(t, s, dt, "alice", "wonderland")
	if r := call(t, s, "GET", "/api/v1/users/all", at); r.Code != 200 {
		t.Fatalf("users/all: %d %s", r.Code, r.Body)
	}
	r := refresh(t, s, "api", rt)
	if r.Code != 200 {
		t.Fatalf("refresh: %d %s", r.Code, r.Body)
	}
	at2 := r.json(t)["access_token"].(string)
	if r := call(t, s, "GET", "/api/v1/version", at2); r.Code != 200 {
		t.Fatalf("version: %d %s", r.Code, r.Body)
	}
	if r := do(t, s, req{method: "GET", path: "/healthz"}); r.Code != 200 {
		t.Fatalf("healthz %d", r.Code)
	}
}
