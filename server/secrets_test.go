package server

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestStoreHoldsOnlyHashes: the store never sees a token or a password,
// only SHA-256 hashes of tokens and bcrypt hashes of passwords.
func TestStoreHoldsOnlyHashes(t *testing.T) {
	st := NewMemoryStore()
	s := newTestServer(t, func(o *Options) { o.Store = st })
	d := newTestDevice("hash")
	code := d.register(t, s)
	dt, drt := trustedDevice(t, s, d)
	at, rt := userToken(t, s, dt, "carol", "queen-of-hearts")
	m := refresh(t, s, "api", rt).json(t)
	dave := url.Values{"username": {"dave"}, "detailtype": {"3"}, "detaildata": {"pw-dave-secret"}}
	do(t, s, req{method: "PUT", path: "/api/v1/users", body: dave.Encode(), ctype: "application/x-www-form-urlencoded",
		headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + at}})
	secrets := []string{code, dt, drt, at, rt, m["access_token"].(string), m["refresh_token"].(string), "pw-dave-secret"}
	var all bytes.Buffer
	_ = st.Load(func(r Record) error { all.Write(r.Value); all.WriteString(r.Key); return nil })
	for _, sec := range secrets {
		if bytes.Contains(all.Bytes(), []byte(sec)) {
			t.Errorf("store holds a secret (%.4s…)", sec)
		}
	}
	// The hash of the refresh token is there (raw bytes in a family).
	h := sha256.Sum256([]byte(m["refresh_token"].(string)))
	if !bytes.Contains(all.Bytes(), h[:]) {
		t.Error("refresh token hash not stored")
	}
}

// TestSpentTokensBeyondCap: only the newest spent refresh tokens are kept for
// reuse detection; an older one is refused without revoking the family.
func TestSpentTokensBeyondCap(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	_, rt := userToken(t, s, "", "alice", "wonderland")
	first := rt
	for i := 0; i <= maxSpentPerFamily; i++ {
		rt = refresh(t, s, "api", rt).json(t)["refresh_token"].(string)
	}
	if r := refresh(t, s, "api", first); r.errCode(t) != "invalid_grant" {
		t.Fatalf("forgotten spent token: %s", r.Body)
	}
	if r := refresh(t, s, "api", rt); r.Code != 200 {
		t.Fatalf("family revoked by a forgotten token: %d %s", r.Code, r.Body)
	}
}

// failingStore is a Store whose commits fail while fail is set.
type failingStore struct {
	Store
	fail bool
}

func (f *failingStore) Commit(b Batch) error {
	if f.fail {
		return errors.New("disk full")
	}
	return f.Store.Commit(b)
}

// TestStoreFailureChangesNothing: a change the store refuses answers 503
// temporarily_unavailable and is undone in memory too, so a refresh can be
// retried with the same token (no reuse detection) and nothing half-done
// stays behind.
func TestStoreFailureChangesNothing(t *testing.T) {
	st := &failingStore{Store: NewMemoryStore()}
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = st })
	_, rt := userToken(t, s, "", "alice", "wonderland")

	st.fail = true
	// The shared helpers fail a test on any 5xx: send these by hand.
	send := func(method, path, ctype, body string, hdr map[string]string) (int, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	form := "application/x-www-form-urlencoded"
	refreshForm := url.Values{"client_id": {"api"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
	for _, c := range []struct{ what, method, path, ctype, body string }{
		{"refresh", "POST", "/oauth/v1/token", form, refreshForm},
		{"login", "POST", "/api/v1/login", form, pw("bob", "builder").Encode()},
		{"settings", "PATCH", "/admin/api/settings", "application/json", `{"access_token_ttl":"5m"}`},
	} {
		code, body := send(c.method, c.path, c.ctype, c.body, map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + s.AdminToken()})
		if code != 503 || !strings.Contains(body, `"temporarily_unavailable"`) {
			t.Fatalf("%s with a failing store: %d %s", c.what, code, body)
		}
	}
	st.fail = false

	if r := adminDo(t, s, "GET", "/admin/api/settings", ""); r.json(t)["access_token_ttl"] != "1h0m0s" {
		t.Errorf("a setting the store refused took effect: %s", r.Body)
	}
	r := refresh(t, s, "api", rt)
	if r.Code != 200 {
		t.Fatalf("retrying the refresh after the store recovered: %d %s", r.Code, r.Body)
	}
	if r := refresh(t, s, "api", r.json(t)["refresh_token"].(string)); r.Code != 200 {
		t.Fatalf("the family was revoked: %d %s", r.Code, r.Body)
	}
}
