package server

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const testKey = DemoKeyValue

// newTestServer starts a demo server with a fake clock and the cheapest
// password cost.
func newTestServer(t testing.TB, mod ...func(*Options)) *Server {
	t.Helper()
	opts := Options{PasswordCost: bcrypt.MinCost, FakeClock: true, AdminToken: "admin-secret"}
	for _, m := range mod {
		m(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// resp is a recorded answer.
type resp struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", r.Code, err, r.Body)
	}
	return m
}

func (r resp) errCode(t testing.TB) string {
	t.Helper()
	m := r.json(t)
	c, _ := m["error"].(string)
	return c
}

type req struct {
	method  string
	path    string
	body    string
	ctype   string
	headers map[string]string
	repeat  http.Header // headers given several times (Header.Add)
	remote  string
}

func do(t testing.TB, h http.Handler, q req) resp {
	t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	r := httptest.NewRequest(q.method, q.path, body)
	if q.ctype != "" {
		r.Header.Set("Content-Type", q.ctype)
	}
	if q.remote != "" {
		r.RemoteAddr = q.remote
	}
	for k, v := range q.headers {
		r.Header.Set(k, v)
	}
	for k, vs := range q.repeat {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 500 {
		t.Errorf("%s %s answered %d: %s", q.method, q.path, res.StatusCode, b)
	}
	if res.StatusCode >= 400 && q.method != http.MethodHead && !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s %s: error %d is not JSON (%q)", q.method, q.path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	return resp{Code: res.StatusCode, Header: res.Header, Body: b}
}

// form posts an urlencoded form.
func postForm(t testing.TB, h http.Handler, path string, v url.Values, headers map[string]string) resp {
	t.Helper()
	return do(t, h, req{method: "POST", path: path, body: v.Encode(), ctype: "application/x-www-form-urlencoded", headers: headers})
}

func adminDo(t testing.TB, s *Server, method, path, body string) resp {
	t.Helper()
	return do(t, s, req{method: method, path: path, body: body, ctype: "application/json",
		headers: map[string]string{"Authorization": "Bearer " + s.AdminToken()}})
}

func advance(t testing.TB, s *Server, d time.Duration) {
	t.Helper()
	if r := adminDo(t, s, "POST", "/admin/api/clock", `{"advance":"`+d.String()+`"}`); r.Code != 200 {
		t.Fatalf("clock: %d %s", r.Code, r.Body)
	}
}

// testDevice is a client that registers with an Ed25519 key.
type testDevice struct {
	id   string
	priv ed25519.PrivateKey
}

func newTestDevice(id string) *testDevice {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, id)
	return &testDevice{id: id, priv: ed25519.NewKeyFromSeed(seed)}
}

func (d *testDevice) pub() string {
	return base64.StdEncoding.EncodeToString(d.priv.Public().(ed25519.PublicKey))
}

// signedPost posts v signed with the device key.
func (d *testDevice) signedPost(t testing.TB, h http.Handler, path string, v url.Values) resp {
	t.Helper()
	body := v.Encode()
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(d.priv, []byte(body)))
	return do(t, h, req{method: "POST", path: path, body: body, ctype: "application/x-www-form-urlencoded",
		headers: map[string]string{signatureHeader: sig}})
}

func (d *testDevice) register(t testing.TB, h http.Handler) string {
	t.Helper()
	r := d.signedPost(t, h, "/oauth/v1/register", url.Values{
		"client_id": {d.id}, "client_secret": {testKey}, "client_type": {"desktop_client"},
		"response_type": {"device_code"}, "public_key": {d.pub()}, "key_type": {"ed25519"}, "state": {"n1"},
	})
	if r.Code != 200 {
		t.Fatalf("register: %d %s", r.Code, r.Body)
	}
	return r.json(t)["device_code"].(string)
}

func (d *testDevice) poll(t testing.TB, h http.Handler, code string) resp {
	t.Helper()
	return d.signedPost(t, h, "/oauth/v1/token", url.Values{
		"client_id": {d.id}, "client_secret": {testKey}, "grant_type": {"device_code"}, "device_code": {code},
	})
}

// trustedDevice registers, approves and exchanges a device code; it returns
// the device token and refresh token.
func trustedDevice(t testing.TB, s *Server, d *testDevice) (access, refresh string) {
	t.Helper()
	code := d.register(t, s)
	if r := adminDo(t, s, "POST", "/admin/api/devices/"+d.id+"/approve", ""); r.Code != 200 {
		t.Fatalf("approve: %d %s", r.Code, r.Body)
	}
	r := d.poll(t, s, code)
	if r.Code != 200 {
		t.Fatalf("device token: %d %s", r.Code, r.Body)
	}
	m := r.json(t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

// login logs in with a device token; it returns the raw answer.
func login(t testing.TB, s *Server, deviceToken string, v url.Values) resp {
	t.Helper()
	h := map[string]string{"X-Api-Key": testKey}
	if deviceToken != "" {
		h["Authorization"] = "Bearer " + deviceToken
	}
	return postForm(t, s, "/api/v1/login", v, h)
}

func pw(user, pass string) url.Values {
	return url.Values{"authtype": {"0"}, "userid": {user}, "password": {pass}}
}

// userToken logs a user in and returns access and refresh token.
func userToken(t testing.TB, s *Server, deviceToken, user, pass string) (string, string) {
	t.Helper()
	r := login(t, s, deviceToken, pw(user, pass))
	if r.Code != 200 {
		t.Fatalf("login %s: %d %s", user, r.Code, r.Body)
	}
	tok := r.json(t)["token"].(map[string]any)
	return tok["access_token"].(string), tok["refresh_token"].(string)
}

func call(t testing.TB, s *Server, method, path, token string) resp {
	t.Helper()
	h := map[string]string{"X-Api-Key": testKey}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return do(t, s, req{method: method, path: path, headers: h})
}

func refresh(t testing.TB, h http.Handler, clientID, rt string) resp {
	t.Helper()
	return postForm(t, h, "/oauth/v1/token", url.Values{"client_id": {clientID}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}, nil)
}
