package server

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tests for decisions ([ours] rules) of docs/protocol.md that the other test files
// did not pin down; each names the decision it checks.

// §5.3: without a user token (allowed by the key) a caller may use version,
// account and the two user lists; creating or deleting users and both
// document functions answer 403 forbidden.
func TestUnauthenticatedCallerLimits(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUnauthenticated = true }))
	key := map[string]string{"X-Api-Key": testKey}
	for _, p := range []string{"/api/v1/version", "/api/v1/account", "/api/v1/users/all", "/api/v1/users?username=alice"} {
		if r := do(t, s, req{method: "GET", path: p, headers: key}); r.Code != 200 {
			t.Errorf("GET %s without a token: %d %s", p, r.Code, r.Body)
		}
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("title", "anonymous")
	fw, _ := mw.CreateFormFile("data", "doc.pdf")
	_, _ = fw.Write([]byte("%PDF-"))
	_ = mw.Close()
	for _, q := range []req{
		{method: "PUT", path: "/api/v1/users", body: "username=mallory", ctype: "application/x-www-form-urlencoded"},
		{method: "DELETE", path: "/api/v1/users/bob"},
		{method: "GET", path: "/api/v1/documents/history"},
		{method: "PUT", path: "/api/v1/documents", body: buf.String(), ctype: mw.FormDataContentType()},
	} {
		q.headers = key
		if r := do(t, s, q); r.Code != 403 || r.errCode(t) != "forbidden" {
			t.Errorf("%s %s without a token: %d %s", q.method, q.path, r.Code, r.Body)
		}
	}
	if r := call(t, s, "GET", "/api/v1/users?username=bob", carolToken(t, s)); !strings.Contains(string(r.Body), `"bob"`) {
		t.Errorf("bob was deleted by an anonymous caller: %s", r.Body)
	}
}

// carolToken logs the administrator in through a key that allows untrusted
// endpoints for that one login.
func carolToken(t *testing.T, s *Server) string {
	t.Helper()
	if r := adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"allow_untrusted":true}`); r.Code != 200 {
		t.Fatalf("key: %d %s", r.Code, r.Body)
	}
	at, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	return at
}

// §5.3: creating a user whose name, email, card ID or short ID another user
// has → 409 user_exists. §5.2: GET /api/v1/users?username= answers
// {"items": []} for an unknown name.
func TestUserConflictsAndUnknownUser(t *testing.T) {
	s := permissive(t)
	carol, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	create := func(v url.Values) resp {
		return do(t, s, req{method: "PUT", path: "/api/v1/users", body: v.Encode(), ctype: "application/x-www-form-urlencoded",
			headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + carol}})
	}
	for name, v := range map[string]url.Values{
		"same username":               {"username": {"alice"}},
		"same email, other case":      {"username": {"erin"}, "detailtype": {"1"}, "detaildata": {"ALICE@example.com"}},
		"same card ID":                {"username": {"erin"}, "detailtype": {"4"}, "detaildata": {"CARD-0002"}},
		"same short ID":               {"username": {"erin"}, "detailtype": {"5"}, "detaildata": {"1003"}},
		"new name, one field clashes": {"username": {"erin"}, "detailtype": {"1", "5"}, "detaildata": {"erin@example.com", "1001"}},
	} {
		if r := create(v); r.Code != 409 || r.errCode(t) != "user_exists" {
			t.Errorf("%s: %d %s", name, r.Code, r.Body)
		}
	}
	if r := create(url.Values{"username": {"erin"}, "detailtype": {"1", "4", "5"}, "detaildata": {"erin@example.com", "CARD-0005", "1005"}}); r.Code != 201 {
		t.Fatalf("a user with fresh details: %d %s", r.Code, r.Body)
	}
	r := call(t, s, "GET", "/api/v1/users?username=nobody", carol)
	if r.Code != 200 || strings.Join(strings.Fields(string(r.Body)), "") != `{"items":[]}` {
		t.Fatalf("unknown user: %d %s", r.Code, r.Body)
	}
}

// §5.3: everyone, administrators too, sees only their own documents;
// history maxrecords is 1 to 1000, default 50.
func TestHistoryOwnDocumentsAndDefaultPage(t *testing.T) {
	s := permissive(t)
	alice, _ := userToken(t, s, "", "alice", "wonderland")
	carol, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	for i := 0; i < 51; i++ {
		if r := submit(t, s, alice, "a"+strconv.Itoa(i), []byte("x")); r.Code != 201 {
			t.Fatalf("submit %d: %d %s", i, r.Code, r.Body)
		}
	}
	if m := call(t, s, "GET", "/api/v1/documents/history", carol).json(t); len(m["items"].([]any)) != 0 {
		t.Errorf("the administrator sees alice's documents: %v", m)
	}
	m := call(t, s, "GET", "/api/v1/documents/history", alice).json(t)
	if n := len(m["items"].([]any)); n != 50 {
		t.Errorf("default page: %d items, want 50", n)
	}
	if _, ok := m["nextPageToken"].(string); !ok {
		t.Errorf("no nextPageToken after a full default page")
	}
	if m := call(t, s, "GET", "/api/v1/documents/history?maxrecords=1000", alice).json(t); len(m["items"].([]any)) != 51 || m["nextPageToken"] != nil {
		t.Errorf("maxrecords=1000: %d items, nextPageToken %v", len(m["items"].([]any)), m["nextPageToken"])
	}
}

// §5.1: an Authorization header that is not exactly one Bearer <token> →
// 401 invalid_token.
func TestAuthorizationNotOneBearer(t *testing.T) {
	s := permissive(t)
	at, _ := userToken(t, s, "", "alice", "wonderland")
	for name, auth := range map[string][]string{
		"basic":      {"Basic " + at},
		"no scheme":  {at},
		"two tokens": {"Bearer " + at, "Bearer " + at},
	} {
		r := do(t, s, req{method: "GET", path: "/api/v1/version", headers: map[string]string{"X-Api-Key": testKey},
			repeat: http.Header{"Authorization": auth}})
		if r.Code != 401 || r.errCode(t) != "invalid_token" || r.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("%s: %d %q %s", name, r.Code, r.Header.Get("WWW-Authenticate"), r.Body)
		}
	}
	if r := call(t, s, "GET", "/api/v1/version", at); r.Code != 200 {
		t.Fatalf("the token itself is good: %d %s", r.Code, r.Body)
	}
}

// §3.4: each new refresh token lives refresh_token_ttl from its issue
// (sliding).
func TestRefreshLifetimeSlides(t *testing.T) {
	s := permissive(t)
	_, rt := userToken(t, s, "", "alice", "wonderland")
	for i := 0; i < 2; i++ {
		advance(t, s, 80*24*time.Hour) // 160 days in all: past the login's 90
		r := refresh(t, s, "api", rt)
		if r.Code != 200 {
			t.Fatalf("refresh %d, 80 days after the previous one: %d %s", i, r.Code, r.Body)
		}
		rt = r.json(t)["refresh_token"].(string)
	}
	advance(t, s, 90*24*time.Hour)
	if r := refresh(t, s, "api", rt); r.errCode(t) != "invalid_grant" {
		t.Fatalf("90 days after the last refresh: %s", r.Body)
	}
}

// §3.1: a signed re-registration that sends a new public_key replaces the
// device's key; a first registration that sends a signature has it checked
// against the key in the same request.
func TestRegistrationKeys(t *testing.T) {
	s := newTestServer(t)
	d := newTestDevice("rk")
	trustedDevice(t, s, d)
	next := &testDevice{id: "rk", priv: newTestDevice("rk-next").priv}
	r := d.signedPost(t, s, "/oauth/v1/register", regForm("rk", "public_key", next.pub(), "key_type", "ed25519"))
	if r.Code != 200 {
		t.Fatalf("signed registration with a new key: %d %s", r.Code, r.Body)
	}
	code := r.json(t)["device_code"].(string)
	if r := d.poll(t, s, code); r.Code != 401 || r.errCode(t) != "invalid_client" {
		t.Fatalf("signed with the replaced key: %d %s", r.Code, r.Body)
	}
	if r := next.poll(t, s, code); r.Code != 200 {
		t.Fatalf("signed with the new key: %d %s", r.Code, r.Body)
	}

	// First registration: a signature by another key than the one sent.
	liar := &testDevice{id: "first", priv: newTestDevice("someone-else").priv}
	owner := newTestDevice("first")
	if r := liar.signedPost(t, s, "/oauth/v1/register", regForm("first", "public_key", owner.pub(), "key_type", "ed25519")); r.Code != 401 || r.errCode(t) != "invalid_client" {
		t.Fatalf("first registration signed by another key: %d %s", r.Code, r.Body)
	}
	if r := owner.signedPost(t, s, "/oauth/v1/register", regForm("first", "public_key", owner.pub(), "key_type", "ed25519")); r.Code != 200 {
		t.Fatalf("first registration signed by its key: %d %s", r.Code, r.Body)
	}
}

// §2.3: a key's expiry is judged on the server's clock, the fake one
// included.
func TestKeyExpiryOnFakeClock(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newTestServer(t, func(o *Options) { o.Now = func() time.Time { return base } },
		withKey(func(k *Key) { k.AllowUntrusted = true; k.ExpiresAt = "2030-01-01T01:00:00Z" }))
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 200 {
		t.Fatalf("before expiry: %d %s", r.Code, r.Body)
	}
	advance(t, s, time.Hour)
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 403 || r.errCode(t) != "invalid_api_key" {
		t.Fatalf("after the fake clock passed expiry: %d %s", r.Code, r.Body)
	}
}

// §2.3: permissions name functions by the first path segment after
// /api/v1/: login, version, account, users, documents.
func TestPermissionNames(t *testing.T) {
	for _, fn := range []string{"login", "version", "account", "users", "documents"} {
		t.Run(fn, func(t *testing.T) {
			s := permissive(t)
			at, _ := userToken(t, s, "", "alice", "wonderland")
			paths := map[string]string{"version": "/api/v1/version", "account": "/api/v1/account",
				"users": "/api/v1/users/all", "documents": "/api/v1/documents/history"}
			if r := adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"permissions":["`+fn+`"]}`); r.Code != 200 {
				t.Fatalf("permissions: %d %s", r.Code, r.Body)
			}
			for other, p := range paths {
				r := call(t, s, "GET", p, at)
				if other == fn && r.Code != 200 {
					t.Errorf("%s allowed: %d %s", p, r.Code, r.Body)
				}
				if other != fn && (r.Code != 403 || r.errCode(t) != "permission_denied") {
					t.Errorf("%s not allowed: %d %s", p, r.Code, r.Body)
				}
			}
			r := login(t, s, "", pw("alice", "wonderland"))
			if fn == "login" && r.Code != 200 {
				t.Errorf("login allowed: %d %s", r.Code, r.Body)
			}
			if fn != "login" && (r.Code != 403 || r.errCode(t) != "permission_denied") {
				t.Errorf("login not allowed: %d %s", r.Code, r.Body)
			}
		})
	}
}

// §7.3: GET /admin/api/clock ({"now", "fake"}) and GET /admin/api/faults; a
// fault with a status answers {"error": "injected_fault"}; count defaults
// to 1.
func TestAdminClockAndFaultReads(t *testing.T) {
	s := newTestServer(t)
	m := adminDo(t, s, "GET", "/admin/api/clock", "").json(t)
	if m["fake"] != true || m["now"] != s.Now().UTC().Format(time.RFC3339) {
		t.Errorf("clock %v", m)
	}
	if m := adminDo(t, newTestServer(t, func(o *Options) { o.FakeClock = false }), "GET", "/admin/api/clock", "").json(t); m["fake"] != false {
		t.Errorf("real clock %v", m)
	}
	if r := adminDo(t, s, "POST", "/admin/api/faults", `{"path":"/healthz","status":429}`); r.Code != 200 {
		t.Fatalf("fault: %d %s", r.Code, r.Body)
	}
	if r := adminDo(t, s, "GET", "/admin/api/faults", ""); strings.Join(strings.Fields(string(r.Body)), "") != `{"items":[{"path":"/healthz","status":429,"drop":false,"count":1}]}` {
		t.Errorf("faults %s", r.Body)
	}
	if r := do(t, s, req{method: "GET", path: "/healthz"}); r.Code != 429 || r.errCode(t) != "injected_fault" {
		t.Errorf("faulty request: %d %s", r.Code, r.Body)
	}
	if r := do(t, s, req{method: "GET", path: "/healthz"}); r.Code != 200 {
		t.Errorf("second request (count defaults to 1): %d", r.Code)
	}
	if r := adminDo(t, s, "GET", "/admin/api/faults", ""); strings.Join(strings.Fields(string(r.Body)), "") != `{"items":[]}` {
		t.Errorf("faults after use %s", r.Body)
	}
}

// §7.3: DELETE /admin/api/devices/{client_id} forgets the device (it must
// register again).
func TestDeletedDeviceIsForgotten(t *testing.T) {
	s := newTestServer(t)
	d := newTestDevice("gone")
	trustedDevice(t, s, d)
	if r := adminDo(t, s, "DELETE", "/admin/api/devices/gone", ""); r.Code != 200 {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	if r := adminDo(t, s, "GET", "/admin/api/devices", ""); strings.Contains(string(r.Body), `"gone"`) {
		t.Fatalf("still listed: %s", r.Body)
	}
	// Registering again starts from scratch: pending, approval needed.
	code := d.register(t, s)
	if r := d.poll(t, s, code); r.errCode(t) != "authorization_pending" {
		t.Fatalf("after registering again: %s", r.Body)
	}
}

// §2: "A key has ... type (general, embedded, chrome, edge)"; every one of
// the four is accepted in the account file and shown by the admin API.
func TestKeyTypes(t *testing.T) {
	for _, typ := range []string{"general", "embedded", "chrome", "edge"} {
		a, err := ParseAccount([]byte("keys:\n  - name: k\n    value: v\n    type: " + typ + "\n"))
		if err != nil || a.Keys[0].Type != typ {
			t.Errorf("type %s: %+v %v", typ, a, err)
		}
		s := newTestServer(t, withKey(func(k *Key) { k.Type = typ }))
		if r := adminDo(t, s, "GET", "/admin/api/keys", ""); !strings.Contains(string(r.Body), `"type":"`+typ+`"`) {
			t.Errorf("type %s: admin API shows %s", typ, r.Body)
		}
	}
}

// §4.1: a POST login that also has a query string is refused with 400
// invalid_request (the fields belong in the body), even when the body alone
// would log in.
func TestLoginPostWithQueryRefused(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	r := do(t, s, req{method: "POST", path: "/api/v1/login?authtype=0", body: pw("alice", "wonderland").Encode(),
		ctype: "application/x-www-form-urlencoded", headers: map[string]string{"X-Api-Key": testKey}})
	if r.Code != 400 || r.errCode(t) != "invalid_request" {
		t.Fatalf("POST with a query: %d %s", r.Code, r.Body)
	}
	if r := login(t, s, "", pw("alice", "wonderland")); r.Code != 200 {
		t.Fatalf("the same POST without the query: %d %s", r.Code, r.Body)
	}
}

// §3.1: the answer carries interval 5 and repeats state only when one was
// sent; every registration replaces the device's previous device code.
func TestRegistrationAnswerAndCodeReplaced(t *testing.T) {
	s := newTestServer(t)
	r := postForm(t, s, "/oauth/v1/register", regForm("rc"), nil)
	m := r.json(t)
	if r.Code != 200 || m["interval"] != float64(5) || m["expires_in"] != float64(259200) {
		t.Fatalf("register: %d %s", r.Code, r.Body)
	}
	if _, ok := m["state"]; ok {
		t.Errorf("state without one sent: %s", r.Body)
	}
	first := m["device_code"].(string)
	second := postForm(t, s, "/oauth/v1/register", regForm("rc"), nil).json(t)["device_code"].(string)
	adminDo(t, s, "POST", "/admin/api/devices/rc/approve", "")
	poll := func(code string) resp {
		return postForm(t, s, "/oauth/v1/token", url.Values{"client_id": {"rc"}, "client_secret": {testKey}, "grant_type": {"device_code"}, "device_code": {code}}, nil)
	}
	if r := poll(first); r.Code != 400 || r.errCode(t) != "invalid_grant" {
		t.Errorf("the replaced code: %d %s", r.Code, r.Body)
	}
	advance(t, s, 5*time.Second)
	if r := poll(second); r.Code != 200 {
		t.Errorf("the new code: %d %s", r.Code, r.Body)
	}
}

// §3.3: the key is checked before the signature and the signature before
// the code.
func TestTokenGrantCheckOrder(t *testing.T) {
	s := newTestServer(t)
	d := newTestDevice("co")
	d.register(t, s)
	unsigned := func(key, code string) resp {
		return postForm(t, s, "/oauth/v1/token", url.Values{"client_id": {"co"}, "client_secret": {key}, "grant_type": {"device_code"}, "device_code": {code}}, nil)
	}
	if r := unsigned("wrong-key", "no-such-code"); r.Code != 401 || r.errCode(t) != "invalid_client" {
		t.Errorf("wrong key, no signature, unknown code: %d %s", r.Code, r.Body)
	}
	if r := unsigned(testKey, "no-such-code"); r.Code != 400 || r.errCode(t) != "invalid_request" {
		t.Errorf("no signature, unknown code: %d %s", r.Code, r.Body)
	}
	if r := d.poll(t, s, "no-such-code"); r.Code != 400 || r.errCode(t) != "invalid_grant" {
		t.Errorf("signed, unknown code: %d %s", r.Code, r.Body)
	}
}
