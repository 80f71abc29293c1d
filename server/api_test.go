package server

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func permissive(t *testing.T) *Server {
	return newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
}

func TestFunctionsNeedToken(t *testing.T) {
	s := permissive(t)
	revoked, _ := userToken(t, s, "", "bob", "builder")
	adminDo(t, s, "POST", "/admin/api/revoke", `{"username":"bob"}`)
	expiring, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	advance(t, s, time.Hour)
	at, _ := userToken(t, s, "", "alice", "wonderland")
	cases := []struct {
		name, token string
		code        int
		errCode     string
		wwwAuth     bool
	}{
		{"no token", "", 403, "token_required", false},
		{"unknown", "nope", 401, "invalid_token", true},
		{"revoked", revoked, 401, "invalid_token", true},
		{"expired", expiring, 401, "invalid_token", true},
		{"valid", at, 200, "", false},
	}
	for _, c := range cases {
		for _, path := range []string{"/api/v1/version", "/api/v1/account", "/api/v1/users/all", "/api/v1/documents/history"} {
			r := call(t, s, "GET", path, c.token)
			if r.Code != c.code {
				t.Errorf("%s %s: %d %s", c.name, path, r.Code, r.Body)
				continue
			}
			if c.errCode != "" && r.errCode(t) != c.errCode {
				t.Errorf("%s %s: %s", c.name, path, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); c.wwwAuth && got != `Bearer error="invalid_token"` {
				t.Errorf("%s %s: WWW-Authenticate %q", c.name, path, got)
			}
		}
	}
}

// TestErrorsReadableInATerminal: error descriptions keep < and > as they
// are (JSON answers are never HTML; people read them with curl).
func TestErrorsReadableInATerminal(t *testing.T) {
	s := permissive(t)
	r := call(t, s, "GET", "/api/v1/version", "")
	if !strings.Contains(string(r.Body), "Bearer <user token>") {
		t.Fatalf("error description escaped: %s", r.Body)
	}
}

func TestDeviceTokenOnFunction(t *testing.T) {
	s := newTestServer(t)
	dt, _ := trustedDevice(t, s, newTestDevice("scope"))
	r := call(t, s, "GET", "/api/v1/version", dt)
	if r.Code != 403 || r.errCode(t) != "insufficient_scope" || r.Header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope"` {
		t.Fatalf("%d %s %q", r.Code, r.Body, r.Header.Get("WWW-Authenticate"))
	}
}

func TestAccountHeadNeedsNoKey(t *testing.T) {
	s := newTestServer(t)
	if r := do(t, s, req{method: "HEAD", path: "/api/v1/account"}); r.Code != 200 {
		t.Fatalf("HEAD: %d", r.Code)
	}
	if r := do(t, s, req{method: "GET", path: "/api/v1/account"}); r.Code != 403 {
		t.Fatalf("GET without key: %d", r.Code)
	}
}

func TestVersionAndAccount(t *testing.T) {
	s := permissive(t)
	at, _ := userToken(t, s, "", "alice", "wonderland")
	if v := call(t, s, "GET", "/api/v1/version", at).json(t); v["version"] != Version {
		t.Errorf("version %v", v)
	}
	if v := call(t, s, "GET", "/api/v1/account", at).json(t); v["users"].(float64) != 3 {
		t.Errorf("account %v", v)
	}
}

func TestUsers(t *testing.T) {
	s := permissive(t)
	alice, _ := userToken(t, s, "", "alice", "wonderland")
	carol, _ := userToken(t, s, "", "carol", "queen-of-hearts")
	list := call(t, s, "GET", "/api/v1/users/all", alice).json(t)["items"].([]any)
	if len(list) != 3 || list[0].(map[string]any)["username"] != "alice" {
		t.Fatalf("list %v", list)
	}
	// §5.2: in name order; §5.3: an item has username, fullName, email and admin.
	for i, want := range []string{"alice", "bob", "carol"} {
		u := list[i].(map[string]any)
		if u["username"] != want || len(u) != 4 || u["fullName"] == nil || u["email"] == nil || u["admin"] == nil {
			t.Errorf("item %d: %v, want %s with username, fullName, email and admin", i, u, want)
		}
	}
	if strings.Contains(string(call(t, s, "GET", "/api/v1/users/all", alice).Body), "CARD-") {
		t.Error("card IDs are listed")
	}
	if l := call(t, s, "GET", "/api/v1/users/all?maxrecords=2", alice).json(t)["items"].([]any); len(l) != 2 {
		t.Errorf("maxrecords: %d", len(l))
	}
	if r := call(t, s, "GET", "/api/v1/users/all?maxrecords=x", alice); r.Code != 400 {
		t.Errorf("bad maxrecords: %d", r.Code)
	}
	if l := call(t, s, "GET", "/api/v1/users?username=bob", alice).json(t)["items"].([]any); len(l) != 1 {
		t.Errorf("get bob: %v", l)
	}
	if r := call(t, s, "GET", "/api/v1/users", alice); r.Code != 400 {
		t.Errorf("get without username: %d", r.Code)
	}

	create := func(tok string, v url.Values) resp {
		return do(t, s, req{method: "PUT", path: "/api/v1/users", body: v.Encode(), ctype: "application/x-www-form-urlencoded",
			headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + tok}})
	}
	dave := url.Values{"username": {"dave"}, "detailtype": {"0", "1", "3", "4", "5"}, "detaildata": {"Dave", "dave@example.com", "pw-dave", "CARD-0004", "1004"}}
	if r := create(alice, dave); r.Code != 403 || r.errCode(t) != "forbidden" {
		t.Fatalf("non-admin create: %d %s", r.Code, r.Body)
	}
	if r := create(carol, dave); r.Code != 201 {
		t.Fatalf("admin create: %d %s", r.Code, r.Body)
	}
	if r := create(carol, dave); r.Code != 409 {
		t.Fatalf("duplicate create: %d %s", r.Code, r.Body)
	}
	for name, bad := range map[string]url.Values{
		"unpaired":     {"username": {"eve"}, "detailtype": {"0", "1"}, "detaildata": {"Eve"}},
		"unknown type": {"username": {"eve"}, "detailtype": {"9"}, "detaildata": {"x"}},
		"repeated":     {"username": {"eve"}, "detailtype": {"0", "0"}, "detaildata": {"a", "b"}},
		"no username":  {"detailtype": {"0"}, "detaildata": {"a"}},
	} {
		if r := create(carol, bad); r.Code != 400 {
			t.Errorf("%s: %d %s", name, r.Code, r.Body)
		}
	}
	// dave can log in with his password, and (the key allowing insecure
	// credentials) with his card ID, short ID and email, which no other user
	// has: the detail types landed in the right fields.
	daveTok, _ := userToken(t, s, "", "dave", "pw-dave")
	adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"allow_unauthenticated":true}`)
	for _, c := range [][2]string{{"1", "CARD-0004"}, {"2", "1004"}, {"4", "dave@example.com"}} {
		r := login(t, s, "", url.Values{"authtype": {c[0]}, "userid": {c[1]}})
		if r.Code != 200 {
			t.Fatalf("dave by authtype %s: %d %s", c[0], r.Code, r.Body)
		}
	}
	adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"allow_unauthenticated":false}`)

	del := func(tok, name string) resp {
		return call(t, s, "DELETE", "/api/v1/users/"+name, tok)
	}
	if r := del(alice, "bob"); r.Code != 403 {
		t.Fatalf("alice deletes bob: %d", r.Code)
	}
	if r := del(daveTok, "dave"); r.Code != 200 {
		t.Fatalf("dave deletes himself: %d %s", r.Code, r.Body)
	}
	if r := call(t, s, "GET", "/api/v1/version", daveTok); r.Code != 401 {
		t.Fatalf("deleted user's token: %d", r.Code)
	}
	if r := del(carol, "bob"); r.Code != 200 {
		t.Fatalf("admin deletes bob: %d", r.Code)
	}
	if r := del(carol, "bob"); r.Code != 404 {
		t.Fatalf("delete twice: %d", r.Code)
	}
}

func submit(t *testing.T, s *Server, tok, title string, data []byte) resp {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("title", title)
	_ = mw.WriteField("copies", "2")
	_ = mw.WriteField("duplex", "true")
	fw, _ := mw.CreateFormFile("data", "doc.pdf")
	_, _ = fw.Write(data)
	_ = mw.Close()
	return do(t, s, req{method: "PUT", path: "/api/v1/documents", body: buf.String(), ctype: mw.FormDataContentType(),
		headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + tok}})
}

func TestDocuments(t *testing.T) {
	s := permissive(t)
	var alice, bob string
	for i := 0; i < 5; i++ {
		alice, _ = userToken(t, s, "", "alice", "wonderland")
		r := submit(t, s, alice, "a"+strconv.Itoa(i), []byte("%PDF-"+strconv.Itoa(i)))
		if r.Code != 201 {
			t.Fatalf("submit: %d %s", r.Code, r.Body)
		}
		if m := r.json(t); m["copies"].(float64) != 2 || m["duplex"] != true || m["size"].(float64) != 6 {
			t.Fatalf("answer %v", m)
		}
		advance(t, s, 24*time.Hour)
	}
	alice, _ = userToken(t, s, "", "alice", "wonderland")
	bob, _ = userToken(t, s, "", "bob", "builder")
	submit(t, s, bob, "b0", []byte("x"))

	// Paging: 2 per page over 5 documents.
	var titles []string
	next := ""
	for page := 0; page < 5; page++ {
		q := "/api/v1/documents/history?maxrecords=2"
		if next != "" {
			q += "&pageToken=" + url.QueryEscape(next)
		}
		m := call(t, s, "GET", q, alice).json(t)
		for _, it := range m["items"].([]any) {
			titles = append(titles, it.(map[string]any)["title"].(string))
		}
		n, ok := m["nextPageToken"].(string)
		if !ok {
			break
		}
		next = n
	}
	if strings.Join(titles, ",") != "a0,a1,a2,a3,a4" {
		t.Fatalf("alice's history %v", titles)
	}
	// Bob sees only his own.
	if m := call(t, s, "GET", "/api/v1/documents/history", bob).json(t); len(m["items"].([]any)) != 1 {
		t.Fatalf("bob's history %v", m)
	}
	// Date filters: the fake clock started at the real time; a1 is one day in.
	start := s.fakeBase.UTC()
	q := "/api/v1/documents/history?datestart=" + url.QueryEscape(start.Add(24*time.Hour).Format(time.RFC3339Nano)) +
		"&dateend=" + url.QueryEscape(start.Add(48*time.Hour).Format(time.RFC3339Nano))
	if m := call(t, s, "GET", q, alice).json(t); len(m["items"].([]any)) != 2 {
		t.Fatalf("date range %s", call(t, s, "GET", q, alice).Body)
	}
	// A date as dateend includes that whole day: a1's day alone holds a1.
	day := start.Add(24 * time.Hour).Format("2006-01-02")
	if m := call(t, s, "GET", "/api/v1/documents/history?datestart="+day+"&dateend="+day, alice).json(t); len(m["items"].([]any)) != 1 {
		t.Fatalf("the one day %s: %v", day, m)
	}
	for _, bad := range []string{"?pageToken=zzz", "?datestart=yesterday", "?maxrecords=0", "?maxrecords=1001", "?dateend=2020-13-01"} {
		if r := call(t, s, "GET", "/api/v1/documents/history"+bad, alice); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
	if r := call(t, s, "GET", "/api/v1/documents/history?datestart=2000-01-01&dateend=2000-01-02", alice); len(r.json(t)["items"].([]any)) != 0 {
		t.Errorf("old range %s", r.Body)
	}
	// Bad submissions.
	r := do(t, s, req{method: "PUT", path: "/api/v1/documents", body: "title=x", ctype: "application/x-www-form-urlencoded",
		headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + alice}})
	if r.Code != 400 {
		t.Errorf("urlencoded document: %d", r.Code)
	}
}
