package server

import (
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// Anyone with the API key may register devices; the ones waiting for
// approval are bounded, so registrations cannot fill the memory.
func TestPendingDevicesAreBounded(t *testing.T) {
	s := newTestServer(t)
	s.maxPending = 3
	reg := func(id string) resp {
		return postForm(t, s, "/oauth/v1/register", url.Values{
			"client_id": {id}, "client_secret": {testKey}, "client_type": {"server"}, "response_type": {"device_code"},
		}, nil)
	}
	for i := 0; i < 3; i++ {
		if r := reg("d" + strconv.Itoa(i)); r.Code != 200 {
			t.Fatalf("register %d: %d %s", i, r.Code, r.Body)
		}
	}
	if r := reg("d3"); r.Code != 429 || r.errCode(t) != "too_many_pending_devices" {
		t.Fatalf("a 4th pending device: %d %s", r.Code, r.Body)
	}
	// A known device registers again; an approved one frees a place.
	if r := reg("d0"); r.Code != 200 {
		t.Fatalf("re-registration: %d %s", r.Code, r.Body)
	}
	if r := adminDo(t, s, "POST", "/admin/api/devices/d0/approve", ""); r.Code != 200 {
		t.Fatalf("approve: %d %s", r.Code, r.Body)
	}
	if r := reg("d3"); r.Code != 200 {
		t.Fatalf("after an approval: %d %s", r.Code, r.Body)
	}
}

func TestDocumentsPerUserAreBounded(t *testing.T) {
	s := permissive(t)
	s.maxDocs = 2
	alice, _ := userToken(t, s, "", "alice", "wonderland")
	bob, _ := userToken(t, s, "", "bob", "builder")
	for i := 0; i < 2; i++ {
		if r := submit(t, s, alice, "a", []byte("x")); r.Code != 201 {
			t.Fatalf("submit %d: %d %s", i, r.Code, r.Body)
		}
	}
	if r := submit(t, s, alice, "a", []byte("x")); r.Code != 409 || r.errCode(t) != "quota_exceeded" {
		t.Fatalf("a 3rd document: %d %s", r.Code, r.Body)
	}
	if r := submit(t, s, bob, "b", []byte("x")); r.Code != 201 {
		t.Fatalf("another user's document: %d %s", r.Code, r.Body)
	}
}

// A user created under the name of a deleted one starts with an empty
// history, in memory and after a restart from the store.
func TestDeletedUsersDocumentsGoWithThem(t *testing.T) {
	store := NewMemoryStore()
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = store })
	carol, _ := userToken(t, s, "", "carol", "queen-of-hearts") // an administrator
	create := func() {
		t.Helper()
		v := url.Values{"username": {"dave"}, "detailtype": {"3"}, "detaildata": {"pw-dave"}}
		r := do(t, s, req{method: "PUT", path: "/api/v1/users", body: v.Encode(), ctype: "application/x-www-form-urlencoded",
			headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + carol}})
		if r.Code != 201 {
			t.Fatalf("create dave: %d %s", r.Code, r.Body)
		}
	}
	create()
	dave, _ := userToken(t, s, "", "dave", "pw-dave")
	if r := submit(t, s, dave, "private", []byte("x")); r.Code != 201 {
		t.Fatalf("submit: %d %s", r.Code, r.Body)
	}
	if r := call(t, s, "DELETE", "/api/v1/users/dave", carol); r.Code != 200 {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	create()
	check := func(s *Server) {
		t.Helper()
		tok, _ := userToken(t, s, "", "dave", "pw-dave")
		if items := call(t, s, "GET", "/api/v1/documents/history", tok).json(t)["items"].([]any); len(items) != 0 {
			t.Errorf("the new dave sees %v", items)
		}
	}
	check(s)
	check(newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = store }))
}

// Failed logins for made-up user IDs do not grow the throttling table
// beyond its bound, and a real user's count still throttles.
func TestThrottleTableIsBounded(t *testing.T) {
	s := permissive(t)
	s.maxThrottled = 8
	for i := 0; i < 50; i++ {
		if r := login(t, s, "", pw("nobody-"+strconv.Itoa(i), "x")); r.Code != 401 {
			t.Fatalf("login %d: %d %s", i, r.Code, r.Body)
		}
		s.mu.Lock()
		n := len(s.st.throttle)
		s.mu.Unlock()
		if n > 8 {
			t.Fatalf("after %d made-up IDs the table has %d entries", i+1, n)
		}
	}
	for i := 0; i < throttleMax; i++ {
		login(t, s, "", pw("alice", "wrong"))
	}
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 429 {
		t.Errorf("alice after %d failures: %d %s", throttleMax, r.Code, r.Body)
	}
}

// Each login is a token family that lives as long as its refresh token; a
// user's (or a device's) families are bounded, the oldest going first.
func TestFamiliesPerOwnerAreBounded(t *testing.T) {
	s := permissive(t)
	s.maxFamilies = 3
	bob, _ := userToken(t, s, "", "bob", "builder")
	var alice []string
	for i := 0; i < 4; i++ {
		at, _ := userToken(t, s, "", "alice", "wonderland")
		alice = append(alice, at)
		advance(t, s, time.Second)
	}
	for i, at := range alice {
		want := 200
		if i == 0 {
			want = 401
		}
		if r := call(t, s, "GET", "/api/v1/version", at); r.Code != want {
			t.Errorf("alice's login %d: %d %s, want %d", i, r.Code, r.Body, want)
		}
	}
	if r := call(t, s, "GET", "/api/v1/version", bob); r.Code != 200 {
		t.Errorf("bob's login: %d %s", r.Code, r.Body)
	}

	d := newTestDevice("fam-dev")
	_, firstRT := trustedDevice(t, s, d)
	for i := 0; i < 3; i++ {
		advance(t, s, time.Second)
		code := d.register(t, s) // signed: exchangeable at once
		advance(t, s, 5*time.Second)
		if r := d.poll(t, s, code); r.Code != 200 {
			t.Fatalf("exchange %d: %d %s", i, r.Code, r.Body)
		}
	}
	r := d.signedPost(t, s, "/oauth/v1/token", url.Values{"client_id": {d.id}, "client_secret": {testKey},
		"grant_type": {"refresh_token"}, "refresh_token": {firstRT}})
	if r.Code != 400 || r.errCode(t) != "invalid_grant" {
		t.Errorf("the device's oldest refresh token after 3 more exchanges: %d %s", r.Code, r.Body)
	}
}

// Creating a user hashes its password with bcrypt: a caller who may not
// create users is refused before the body is even parsed, so that it
// cannot make the server do that work (here: a malformed body from a
// non-administrator gets 403, not 400).
func TestNonAdminCreateRefusedBeforeParsing(t *testing.T) {
	s := permissive(t)
	alice, _ := userToken(t, s, "", "alice", "wonderland")
	v := url.Values{"username": {"eve"}, "detailtype": {"3", "0"}, "detaildata": {"some-password"}}
	r := do(t, s, req{method: "PUT", path: "/api/v1/users", body: v.Encode(), ctype: "application/x-www-form-urlencoded",
		headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + alice}})
	if r.Code != 403 || r.errCode(t) != "forbidden" {
		t.Errorf("%d %s, want 403 forbidden", r.Code, r.Body)
	}
}

// The per-owner list stays in creation order whatever order families are
// added in (a state file loads them in id order) and whichever are dropped,
// so the cap always ends the oldest, and owners without families go.
func TestOwnerFamiliesStayOrdered(t *testing.T) {
	s := permissive(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	add := func(created instant, idByte byte) *family {
		f := &family{created: created, keyName: "k"}
		f.id[0] = idByte
		st.addFamily(f, familyUser, "alice")
		return f
	}
	order := func() (out []instant) {
		for _, f := range st.ownerFamilies(familyUser, "alice") {
			out = append(out, f.created)
		}
		return out
	}
	f30 := add(30, 1)
	add(10, 2)
	f20 := add(20, 3)
	add(40, 4)
	add(20, 0) // same time, smaller id: before f20
	if got := fmt.Sprint(order()); got != "[10 20 20 30 40]" {
		t.Fatalf("order %s", got)
	}
	if first := st.ownerFamilies(familyUser, "alice")[1]; first.id[0] != 0 {
		t.Errorf("tie not broken by id: %v", first.id)
	}
	st.dropFamily(f30)
	st.dropFamily(f20)
	if got := fmt.Sprint(order()); got != "[10 20 40]" || st.families != 3 {
		t.Fatalf("after drops: %s, %d families", got, st.families)
	}
	s.maxFamilies = 2
	if recs := s.capFamiliesLocked(familyUser, "alice"); len(recs) != 2 {
		t.Fatalf("cap dropped %d", len(recs))
	}
	if got := fmt.Sprint(order()); got != "[40]" {
		t.Fatalf("after cap: %s", got)
	}
	for _, f := range st.ownerFamilies(familyUser, "alice") {
		st.dropFamily(f)
	}
	if len(st.owners) != 0 || st.families != 0 {
		t.Errorf("owners %d families %d", len(st.owners), st.families)
	}
}
