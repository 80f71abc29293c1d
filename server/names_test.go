package server

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
)

// FuzzNamesSurviveRestart registers a device and creates a user under
// fuzzed names on a server with a state file, restarts it and checks that
// every token it gave out still works and every name reads back the same.
// A name the server cannot keep (invalid UTF-8, control characters) must be
// refused up front with 400 invalid_request.
func FuzzNamesSurviveRestart(f *testing.F) {
	for _, seed := range [][4]string{
		{"printer-1", "Front desk", "dave", "Dave Bowman"},
		{"\xff", "desc", "\xff", "x"},
		{"ok", "\xfe\xfe", "eve", "\xc3"},
		{"tab\tid", "a\x00b", "new\nline", "\x7f"},
		{"ünïcödé", "日本語", "zoë", "Zoë Ünïcödé"},
		{"c1\u0085", "ok", "c1\u009b", "ok"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, clientID, desc, username, fullName string) {
		path := filepath.Join(t.TempDir(), "state.db")
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		s := boltServer(t, path, base)
		defer func() { _ = s.Close() }()

		d := newTestDevice(clientID)
		r := d.signedPost(t, s, "/oauth/v1/register", url.Values{
			"client_id": {clientID}, "client_secret": {testKey}, "client_type": {"desktop_client"},
			"response_type": {"device_code"}, "public_key": {d.pub()}, "key_type": {"ed25519"}, "client_description": {desc},
		})
		deviceOK := r.Code == 200
		if !validText(clientID) || !validText(desc) {
			if r.Code != 400 || r.errCode(t) != "invalid_request" {
				t.Fatalf("register %q %q: %d %s, want 400 invalid_request", clientID, desc, r.Code, r.Body)
			}
		}
		// The admin's own device logs users in either way.
		admin := newTestDevice("admin-device")
		at, _ := trustedDevice(t, s, admin)
		carol, _ := userToken(t, s, at, "carol", "queen-of-hearts")

		var deviceToken string
		if deviceOK {
			code := r.json(t)["device_code"].(string)
			if r := adminDo(t, s, "POST", "/admin/api/devices/"+url.PathEscape(clientID)+"/approve", ""); r.Code != 200 {
				t.Fatalf("approve %q: %d %s", clientID, r.Code, r.Body)
			}
			r := d.poll(t, s, code)
			if r.Code != 200 {
				t.Fatalf("device token of %q: %d %s", clientID, r.Code, r.Body)
			}
			deviceToken = r.json(t)["access_token"].(string)
		}

		nu := url.Values{"username": {username}, "detailtype": {"0", "3"}, "detaildata": {fullName, "pw-fuzz"}}
		r = do(t, s, req{method: "PUT", path: "/api/v1/users", body: nu.Encode(), ctype: "application/x-www-form-urlencoded",
			headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + carol}})
		userOK := r.Code == 201
		if !validText(username) || !validText(fullName) {
			if r.Code != 400 || r.errCode(t) != "invalid_request" {
				t.Fatalf("create user %q %q: %d %s, want 400 invalid_request", username, fullName, r.Code, r.Body)
			}
		}
		var userAccess string
		if userOK {
			userAccess, _ = userToken(t, s, at, username, "pw-fuzz")
		}

		restart := func() {
			t.Helper()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = boltServer(t, path, base)
		}
		restart()
		if deviceOK {
			if r := login(t, s, deviceToken, pw("alice", "wonderland")); r.Code != 200 {
				t.Errorf("device %q's token after a restart: %d %s", clientID, r.Code, r.Body)
			}
			found := false
			for _, it := range adminDo(t, s, "GET", "/admin/api/devices", "").json(t)["items"].([]any) {
				m := it.(map[string]any)
				if m["client_id"] == clientID {
					found = m["description"] == desc
				}
			}
			if !found {
				t.Errorf("device %q (%q) is not listed as it was registered", clientID, desc)
			}
		}
		if userOK {
			if r := call(t, s, "GET", "/api/v1/documents/history", userAccess); r.Code != 200 {
				t.Errorf("user %q's token after a restart: %d %s", username, r.Code, r.Body)
			}
			q := "/api/v1/users?" + url.Values{"username": {username}}.Encode()
			if r := call(t, s, "GET", q, carol); r.Code != 200 || !strings.Contains(string(r.Body), `"fullName"`) && fullName != "" {
				t.Errorf("user %q after a restart: %d %s", username, r.Code, r.Body)
			} else if items := r.json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["username"] != username {
				t.Errorf("user %q after a restart: %s", username, r.Body)
			}
			if r := call(t, s, "DELETE", "/api/v1/users/"+url.PathEscape(username), carol); r.Code != 200 {
				t.Fatalf("delete %q: %d %s", username, r.Code, r.Body)
			}
			restart()
			if r := login(t, s, at, pw(username, "pw-fuzz")); r.Code != 401 {
				t.Errorf("deleted user %q logs in after a restart: %d %s", username, r.Code, r.Body)
			}
		}
	})
}

// validText is what a name must be to be kept: UTF-8 without control
// characters (C0, DEL, C1).
func validText(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsFunc(s, unicode.IsControl)
}

// TestNamesRefused sends a name or identifier that is not UTF-8 or has a
// control character to every place that takes one: 400 invalid_request.
func TestNamesRefused(t *testing.T) {
	s := permissive(t)
	carol, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	newTestDevice("known").register(t, s)
	form := "application/x-www-form-urlencoded"
	auth := map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + carol}
	admin := map[string]string{"Authorization": "Bearer " + s.AdminToken()}
	reg := func(field, v string) string {
		f := regForm("n1")
		f.Set(field, v)
		return f.Encode()
	}
	var doc bytes.Buffer
	mw := multipart.NewWriter(&doc)
	fw, _ := mw.CreateFormFile("data", "bad\xffname.pdf")
	_, _ = fw.Write([]byte("%PDF"))
	_ = mw.Close()
	for _, c := range []struct {
		name string
		q    req
	}{
		{"register client_id", req{method: "POST", path: "/oauth/v1/register", body: reg("client_id", "\xff"), ctype: form}},
		{"register client_id C1", req{method: "POST", path: "/oauth/v1/register", body: reg("client_id", "a\u0085"), ctype: form}},
		{"register description", req{method: "POST", path: "/oauth/v1/register", body: reg("client_description", "a\x01"), ctype: form}},
		{"register state", req{method: "POST", path: "/oauth/v1/register", body: reg("state", "\xfe"), ctype: form}},
		{"token client_id", req{method: "POST", path: "/oauth/v1/token", ctype: form,
			body: url.Values{"grant_type": {"refresh_token"}, "client_id": {"\x7f"}, "client_secret": {testKey}, "refresh_token": {"x"}}.Encode()}},
		{"token form", req{method: "POST", path: "/oauth/v1/token", ctype: form, body: "grant_type=refresh_token&client_id=api&client_secret=" + testKey + "&refresh_token=%FF"}},
		{"login userid", req{method: "POST", path: "/api/v1/login", body: "authtype=0&userid=%FF&password=x", ctype: form, headers: map[string]string{"X-Api-Key": testKey}}},
		{"login userid control", req{method: "GET", path: "/api/v1/login?authtype=0&userid=a%09b&password=x", headers: map[string]string{"X-Api-Key": testKey}}},
		{"create user", req{method: "PUT", path: "/api/v1/users", body: "username=%FF&detailtype=3&detaildata=pw", ctype: form, headers: auth}},
		{"create user full name", req{method: "PUT", path: "/api/v1/users", body: "username=zed&detailtype=0&detaildata=%C3", ctype: form, headers: auth}},
		{"get user", req{method: "GET", path: "/api/v1/users?username=%FF", headers: auth}},
		{"delete user", req{method: "DELETE", path: "/api/v1/users/%FF", headers: auth}},
		{"document file name", req{method: "PUT", path: "/api/v1/documents", body: doc.String(), ctype: mw.FormDataContentType(), headers: auth}},
		{"approve", req{method: "POST", path: "/admin/api/devices/%FF/approve", headers: admin}},
		{"refuse", req{method: "POST", path: "/admin/api/devices/a%01/refuse", headers: admin}},
		{"untrust", req{method: "DELETE", path: "/admin/api/devices/%FF", headers: admin}},
		{"patch key", req{method: "PATCH", path: "/admin/api/keys/%FF", body: `{}`, ctype: "application/json", headers: admin}},
		{"revoke user", req{method: "POST", path: "/admin/api/revoke", body: `{"username":"a\u0000"}`, ctype: "application/json", headers: admin}},
		{"revoke device", req{method: "POST", path: "/admin/api/revoke", body: `{"client_id":"\u009b"}`, ctype: "application/json", headers: admin}},
	} {
		r := do(t, s, c.q)
		if r.Code != 400 || r.errCode(t) != "invalid_request" {
			t.Errorf("%s: %d %s, want 400 invalid_request", c.name, r.Code, r.Body)
		}
	}
}

// TestNamesRefusedSayWhich: the refusal names the field.
func TestNamesRefusedSayWhich(t *testing.T) {
	s := newTestServer(t)
	r := do(t, s, req{method: "POST", path: "/oauth/v1/register", body: "client_id=%FF&client_secret=x", ctype: "application/x-www-form-urlencoded"})
	if r.Code != 400 || !strings.Contains(string(r.Body), `the form field \"client_id\" is not valid UTF-8`) {
		t.Errorf("%d %s", r.Code, r.Body)
	}
}
