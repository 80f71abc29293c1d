package server

import (
	"bytes"
	"crypto/sha256"
	"net/url"
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
