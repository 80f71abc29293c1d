package server

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"
)

func regForm(id string, extra ...string) url.Values {
	v := url.Values{"client_id": {id}, "client_secret": {testKey}, "client_type": {"printer"}, "response_type": {"device_code"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "<del>" {
			v.Del(extra[i])
			continue
		}
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func TestRegisterParameters(t *testing.T) {
	dev := newTestDevice("k")
	cases := []struct {
		name    string
		form    url.Values
		code    int
		errCode string
	}{
		{"ok", regForm("a"), 200, ""},
		{"ok with key", regForm("a", "public_key", dev.pub(), "key_type", "ed25519"), 200, ""},
		{"missing client_id", regForm("a", "client_id", "<del>"), 400, "invalid_request"},
		{"missing client_secret", regForm("a", "client_secret", "<del>"), 400, "invalid_request"},
		{"missing client_type", regForm("a", "client_type", "<del>"), 400, "invalid_request"},
		{"missing response_type", regForm("a", "response_type", "<del>"), 400, "invalid_request"},
		{"wrong key", regForm("a", "client_secret", "bad"), 401, "invalid_client"},
		{"bad response_type", regForm("a", "response_type", "code"), 400, "unsupported_response_type"},
		{"bad client_type", regForm("a", "client_type", "toaster"), 400, "invalid_request"},
		{"reserved client_id", regForm("api"), 400, "invalid_request"},
		{"key without type", regForm("a", "public_key", dev.pub()), 400, "invalid_request"},
		{"type without key", regForm("a", "key_type", "ed25519"), 400, "invalid_request"},
		{"unknown key type", regForm("a", "public_key", dev.pub(), "key_type", "dsa"), 400, "invalid_request"},
		{"bad base64 key", regForm("a", "public_key", "!!!", "key_type", "ed25519"), 400, "invalid_request"},
		{"short ed25519 key", regForm("a", "public_key", "AAAA", "key_type", "ed25519"), 400, "invalid_request"},
		{"rsa key that is not DER", regForm("a", "public_key", dev.pub(), "key_type", "rsa"), 400, "invalid_request"},
		{"x509 that is not a cert", regForm("a", "public_key", dev.pub(), "key_type", "x509"), 400, "invalid_request"},
		{"duplicated field", func() url.Values { v := regForm("a"); v.Add("client_type", "server"); return v }(), 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestServer(t)
			r := postForm(t, s, "/oauth/v1/register", c.form, nil)
			if r.Code != c.code {
				t.Fatalf("code %d, want %d: %s", r.Code, c.code, r.Body)
			}
			if c.errCode != "" && r.errCode(t) != c.errCode {
				t.Fatalf("error %q, want %q", r.errCode(t), c.errCode)
			}
			if c.code == 200 {
				m := r.json(t)
				if m["device_code"] == "" || m["expires_in"].(float64) != 259200 {
					t.Fatalf("answer %s", r.Body)
				}
			}
		})
	}
	// state is echoed; wrong content type refused.
	s := newTestServer(t)
	if r := postForm(t, s, "/oauth/v1/register", regForm("b", "state", "xyz"), nil); r.json(t)["state"] != "xyz" {
		t.Errorf("state not echoed: %s", r.Body)
	}
	if r := do(t, s, req{method: "POST", path: "/oauth/v1/register", body: regForm("b").Encode(), ctype: "text/plain"}); r.Code != 400 {
		t.Errorf("text/plain: %d", r.Code)
	}
	if r := do(t, s, req{method: "GET", path: "/oauth/v1/register"}); r.Code != 405 {
		t.Errorf("GET: %d", r.Code)
	}
}

func TestDeviceApprovalRefusalAutoTrust(t *testing.T) {
	t.Run("approval", func(t *testing.T) {
		s := newTestServer(t)
		d := newTestDevice("d1")
		code := d.register(t, s)
		if r := d.poll(t, s, code); r.errCode(t) != "authorization_pending" {
			t.Fatalf("%s", r.Body)
		}
		adminDo(t, s, "POST", "/admin/api/devices/d1/approve", "")
		advance(t, s, 5*time.Second)
		r := d.poll(t, s, code)
		if r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		m := r.json(t)
		if m["token_type"] != "Bearer" || m["expires_in"].(float64) != 3600 || m["access_token"] == "" || m["refresh_token"] == "" {
			t.Fatalf("token %s", r.Body)
		}
	})
	t.Run("refusal", func(t *testing.T) {
		s := newTestServer(t)
		d := newTestDevice("d2")
		code := d.register(t, s)
		adminDo(t, s, "POST", "/admin/api/devices/d2/refuse", "")
		if r := d.poll(t, s, code); r.Code != 400 || r.errCode(t) != "access_denied" {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("auto trust", func(t *testing.T) {
		s := newTestServer(t, withKey(func(k *Key) { k.AutoTrust = true }))
		d := newTestDevice("d3")
		code := d.register(t, s)
		if r := d.poll(t, s, code); r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
}

func TestDeviceCodeGrant(t *testing.T) {
	s := newTestServer(t)
	d := newTestDevice("dc")
	code := d.register(t, s)

	// slow_down: a second poll within 5 s.
	if r := d.poll(t, s, code); r.errCode(t) != "authorization_pending" {
		t.Fatalf("%s", r.Body)
	}
	if r := d.poll(t, s, code); r.errCode(t) != "slow_down" {
		t.Fatalf("fast poll: %s", r.Body)
	}
	advance(t, s, 4*time.Second)
	if r := d.poll(t, s, code); r.errCode(t) != "slow_down" {
		t.Fatalf("poll after 4s: %s", r.Body)
	}
	advance(t, s, 5*time.Second)
	if r := d.poll(t, s, code); r.errCode(t) != "authorization_pending" {
		t.Fatalf("poll after 5s: %s", r.Body)
	}

	// Another client's code → invalid_grant; unknown code → invalid_grant.
	other := newTestDevice("other")
	other.register(t, s)
	if r := other.poll(t, s, code); r.errCode(t) != "invalid_grant" {
		t.Fatalf("other client: %s", r.Body)
	}
	if r := d.poll(t, s, "no-such-code"); r.errCode(t) != "invalid_grant" {
		t.Fatalf("unknown code: %s", r.Body)
	}

	// One-time use.
	adminDo(t, s, "POST", "/admin/api/devices/dc/approve", "")
	advance(t, s, 5*time.Second)
	if r := d.poll(t, s, code); r.Code != 200 {
		t.Fatalf("exchange: %s", r.Body)
	}
	advance(t, s, 5*time.Second)
	if r := d.poll(t, s, code); r.errCode(t) != "invalid_grant" {
		t.Fatalf("second exchange: %s", r.Body)
	}

	// expired_token after device_code_ttl.
	e := newTestDevice("exp")
	ecode := e.register(t, s)
	advance(t, s, 72*time.Hour)
	if r := e.poll(t, s, ecode); r.errCode(t) != "expired_token" {
		t.Fatalf("expired: %s", r.Body)
	}

	// Wrong key and unknown grant.
	r := postForm(t, s, "/oauth/v1/token", url.Values{"client_id": {"dc"}, "client_secret": {"bad"}, "grant_type": {"device_code"}, "device_code": {code}}, nil)
	if r.Code != 401 || r.errCode(t) != "invalid_client" {
		t.Fatalf("wrong key: %d %s", r.Code, r.Body)
	}
	r = postForm(t, s, "/oauth/v1/token", url.Values{"client_id": {"dc"}, "client_secret": {testKey}, "grant_type": {"password"}}, nil)
	if r.Code != 400 || r.errCode(t) != "unsupported_grant_type" {
		t.Fatalf("grant: %d %s", r.Code, r.Body)
	}
	r = postForm(t, s, "/oauth/v1/token", url.Values{"client_id": {"dc"}, "client_secret": {testKey}}, nil)
	if r.Code != 400 || r.errCode(t) != "invalid_request" {
		t.Fatalf("no grant: %d %s", r.Code, r.Body)
	}
}

// TestSlowDownRealTime: without any fake-clock advance, real elapsed time
// counts (the base clock is injected here).
func TestSlowDownRealTime(t *testing.T) {
	var mu sync.Mutex
	real := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newTestServer(t, func(o *Options) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return real }
	})
	d := newTestDevice("rt")
	code := d.register(t, s)
	d.poll(t, s, code)
	mu.Lock()
	real = real.Add(3 * time.Second)
	mu.Unlock()
	advance(t, s, 2*time.Second) // 3 s real + 2 s fake = 5 s
	if r := d.poll(t, s, code); r.errCode(t) != "authorization_pending" {
		t.Fatalf("%s", r.Body)
	}
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

type signer struct {
	keyType string
	pub     []byte
	sign    func([]byte) []byte
}

func testSigners(t testing.TB) []signer {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edPub := edPriv.Public().(ed25519.PublicKey)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	edSign := func(b []byte) []byte { return ed25519.Sign(edPriv, b) }
	rk := testRSAKey(t)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	rsaSign := func(b []byte) []byte {
		sum := sha256.Sum256(b)
		sig, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dev"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}
	edCert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, edPub, edPriv)
	if err != nil {
		t.Fatal(err)
	}
	rsaCert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	return []signer{
		{"ed25519", edPub, edSign},
		{"ed25519", edDER, edSign},
		{"rsa", rsaDER, rsaSign},
		{"x509", edCert, edSign},
		{"x509", rsaCert, rsaSign},
	}
}

func TestSignatures(t *testing.T) {
	for i, sg := range testSigners(t) {
		t.Run(sg.keyType, func(t *testing.T) {
			s := newTestServer(t)
			id := "sig-" + string(rune('a'+i))
			post := func(path string, v url.Values, sig string) resp {
				h := map[string]string{}
				if sig != "" {
					h[signatureHeader] = sig
				}
				return do(t, s, req{method: "POST", path: path, body: v.Encode(), ctype: "application/x-www-form-urlencoded", headers: h})
			}
			sign := func(v url.Values) string { return base64.StdEncoding.EncodeToString(sg.sign([]byte(v.Encode()))) }
			reg := regForm(id, "public_key", base64.StdEncoding.EncodeToString(sg.pub), "key_type", sg.keyType)
			r := post("/oauth/v1/register", reg, sign(reg))
			if r.Code != 200 {
				t.Fatalf("register: %d %s", r.Code, r.Body)
			}
			code := r.json(t)["device_code"].(string)
			adminDo(t, s, "POST", "/admin/api/devices/"+id+"/approve", "")
			tok := url.Values{"client_id": {id}, "client_secret": {testKey}, "grant_type": {"device_code"}, "device_code": {code}}
			// Unsigned: invalid_request. Signature over other bytes: invalid_client.
			if r := post("/oauth/v1/token", tok, ""); r.Code != 400 || r.errCode(t) != "invalid_request" {
				t.Fatalf("unsigned: %d %s", r.Code, r.Body)
			}
			if r := post("/oauth/v1/token", tok, sign(url.Values{"x": {"y"}})); r.Code != 401 || r.errCode(t) != "invalid_client" {
				t.Fatalf("wrong signature: %d %s", r.Code, r.Body)
			}
			if r := post("/oauth/v1/token", tok, "%%%"); r.Code != 401 || r.errCode(t) != "invalid_client" {
				t.Fatalf("non-base64 signature: %d %s", r.Code, r.Body)
			}
			r = post("/oauth/v1/token", tok, sign(tok))
			if r.Code != 200 {
				t.Fatalf("signed: %d %s", r.Code, r.Body)
			}
			// The refresh grant must be signed too.
			rf := url.Values{"client_id": {id}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {r.json(t)["refresh_token"].(string)}}
			if r := post("/oauth/v1/token", rf, ""); r.Code != 400 || r.errCode(t) != "invalid_request" {
				t.Fatalf("unsigned refresh: %d %s", r.Code, r.Body)
			}
			if r := post("/oauth/v1/token", rf, sign(rf)); r.Code != 200 {
				t.Fatalf("signed refresh: %d %s", r.Code, r.Body)
			}
		})
	}
}

func TestReRegistration(t *testing.T) {
	s := newTestServer(t)
	d := newTestDevice("rr")
	trustedDevice(t, s, d)
	// Signed re-registration: exchangeable at once, no approval.
	code := d.register(t, s)
	if r := d.poll(t, s, code); r.Code != 200 {
		t.Fatalf("signed re-registration: %d %s", r.Code, r.Body)
	}
	// An unsigned re-registration of a keyed device is refused.
	if r := postForm(t, s, "/oauth/v1/register", regForm("rr"), nil); r.Code != 400 || r.errCode(t) != "invalid_request" {
		t.Fatalf("unsigned: %d %s", r.Code, r.Body)
	}
	// A signature by another key is refused.
	imp := &testDevice{id: "rr", priv: newTestDevice("impostor").priv}
	if r := imp.signedPost(t, s, "/oauth/v1/register", regForm("rr")); r.Code != 401 {
		t.Fatalf("impostor: %d %s", r.Code, r.Body)
	}
	// A device without a key that registers again goes back to pending.
	nk := "nokey"
	postForm(t, s, "/oauth/v1/register", regForm(nk), nil)
	adminDo(t, s, "POST", "/admin/api/devices/"+nk+"/approve", "")
	r := postForm(t, s, "/oauth/v1/register", regForm(nk), nil)
	code2 := r.json(t)["device_code"].(string)
	pr := postForm(t, s, "/oauth/v1/token", url.Values{"client_id": {nk}, "client_secret": {testKey}, "grant_type": {"device_code"}, "device_code": {code2}}, nil)
	if pr.errCode(t) != "authorization_pending" {
		t.Fatalf("keyless re-registration: %s", pr.Body)
	}
}

func TestRefreshGrant(t *testing.T) {
	s := newTestServer(t)
	d := newTestDevice("rf")
	dt, drt := trustedDevice(t, s, d)
	_, urt := userToken(t, s, dt, "alice", "wonderland")

	// client_id: api for users, the device id for devices.
	if r := refresh(t, s, "rf", urt); r.errCode(t) != "invalid_grant" {
		t.Fatalf("user token with device id: %s", r.Body)
	}
	if r := d.signedPost(t, s, "/oauth/v1/token", url.Values{"client_id": {"api"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {drt}}); r.errCode(t) != "invalid_grant" {
		t.Fatalf("device token with api: %s", r.Body)
	}
	r := d.signedPost(t, s, "/oauth/v1/token", url.Values{"client_id": {"rf"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {drt}})
	if r.Code != 200 {
		t.Fatalf("device refresh: %d %s", r.Code, r.Body)
	}
	// Another device's id with a device's refresh token.
	other := newTestDevice("rf-other")
	trustedDevice(t, s, other)
	if r := other.signedPost(t, s, "/oauth/v1/token", url.Values{"client_id": {"rf-other"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {r.json(t)["refresh_token"].(string)}}); r.Code != 400 || r.errCode(t) != "invalid_grant" {
		t.Fatalf("device token with another device's id: %d %s", r.Code, r.Body)
	}
	r = refresh(t, s, "api", urt)
	if r.Code != 200 {
		t.Fatalf("user refresh: %d %s", r.Code, r.Body)
	}
	if r.json(t)["refresh_token"] == urt {
		t.Fatal("refresh token not rotated")
	}
	if r := postForm(t, s, "/oauth/v1/token", url.Values{"client_id": {"api"}, "client_secret": {"bad"}, "grant_type": {"refresh_token"}, "refresh_token": {urt}}, nil); r.Code != 401 || r.errCode(t) != "invalid_client" {
		t.Fatalf("wrong key: %d %s", r.Code, r.Body)
	}
	if r := refresh(t, s, "api", "unknown"); r.errCode(t) != "invalid_grant" {
		t.Fatalf("unknown: %s", r.Body)
	}
}

func TestRotationReuseRevokesFamily(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	_, rt1 := userToken(t, s, "", "alice", "wonderland")
	r := refresh(t, s, "api", rt1)
	m := r.json(t)
	at2, rt2 := m["access_token"].(string), m["refresh_token"].(string)
	// Reusing rt1 revokes the family: rt2 and at2 die too.
	if r := refresh(t, s, "api", rt1); r.Code != 400 || r.errCode(t) != "invalid_grant" {
		t.Fatalf("reuse: %d %s", r.Code, r.Body)
	}
	if r := refresh(t, s, "api", rt2); r.errCode(t) != "invalid_grant" {
		t.Fatalf("successor survived: %s", r.Body)
	}
	if r := call(t, s, "GET", "/api/v1/version", at2); r.Code != 401 {
		t.Fatalf("access token survived: %d", r.Code)
	}
	// Another login's family is untouched.
	_, other := userToken(t, s, "", "alice", "wonderland")
	if r := refresh(t, s, "api", other); r.Code != 200 {
		t.Fatalf("other family: %s", r.Body)
	}
}

func TestRefreshGrace(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	if r := adminDo(t, s, "PATCH", "/admin/api/settings", `{"refresh_grace":"30s"}`); r.Code != 200 {
		t.Fatal(r.Code, string(r.Body))
	}
	_, rt1 := userToken(t, s, "", "alice", "wonderland")
	rt2 := refresh(t, s, "api", rt1).json(t)["refresh_token"].(string)
	advance(t, s, 10*time.Second)
	r := refresh(t, s, "api", rt1) // retry within grace
	if r.Code != 200 {
		t.Fatalf("retry within grace: %d %s", r.Code, r.Body)
	}
	if r := refresh(t, s, "api", rt2); r.Code != 200 {
		t.Fatalf("earlier successor: %d %s", r.Code, r.Body)
	}
	advance(t, s, 30*time.Second)
	if r := refresh(t, s, "api", rt1); r.errCode(t) != "invalid_grant" {
		t.Fatalf("after grace: %s", r.Body)
	}
}

func TestRefreshExpired(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	_, rt := userToken(t, s, "", "alice", "wonderland")
	advance(t, s, 2160*time.Hour)
	if r := refresh(t, s, "api", rt); r.errCode(t) != "invalid_grant" {
		t.Fatalf("%s", r.Body)
	}
}

func TestRefreshRace(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	for round := 0; round < 5; round++ {
		_, rt := userToken(t, s, "", "alice", "wonderland")
		const n = 8
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- refresh(t, s, "api", rt).Code
			}()
		}
		wg.Wait()
		close(codes)
		wins := 0
		for c := range codes {
			if c == 200 {
				wins++
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners", round, wins)
		}
	}
}

func TestUntrustedDeviceTokensStop(t *testing.T) {
	s := newTestServer(t)
	d := newTestDevice("ut")
	dt, drt := trustedDevice(t, s, d)
	if r := adminDo(t, s, "DELETE", "/admin/api/devices/ut", ""); r.Code != 200 {
		t.Fatal(r.Code)
	}
	if r := login(t, s, dt, pw("alice", "wonderland")); r.Code != 403 || r.errCode(t) != "untrusted_device" {
		t.Fatalf("login: %d %s", r.Code, r.Body)
	}
	if r := d.signedPost(t, s, "/oauth/v1/token", url.Values{"client_id": {"ut"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {drt}}); r.errCode(t) != "invalid_grant" {
		t.Fatalf("refresh: %s", r.Body)
	}
}

// TestAccessTokensPerFamilyBounded: refreshing keeps the newest access
// tokens valid until they expire and forgets the older ones.
func TestAccessTokensPerFamilyBounded(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }))
	at, rt := userToken(t, s, "", "alice", "wonderland")
	tokens := []string{at}
	for i := 0; i < maxAccessPerFamily; i++ {
		m := refresh(t, s, "api", rt).json(t)
		rt = m["refresh_token"].(string)
		tokens = append(tokens, m["access_token"].(string))
	}
	if r := call(t, s, "GET", "/api/v1/version", tokens[0]); r.Code != 401 {
		t.Errorf("oldest access token: %d", r.Code)
	}
	for _, tok := range tokens[1:] {
		if r := call(t, s, "GET", "/api/v1/version", tok); r.Code != 200 {
			t.Errorf("recent access token: %d", r.Code)
		}
	}
}

// TestConcurrentClients runs many clients at once (logins, calls, refreshes,
// registrations, admin reads) to let -race find shared state.
func TestConcurrentClients(t *testing.T) {
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true; k.AutoTrust = true }))
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				r := login(t, s, "", pw("alice", "wonderland"))
				if r.Code != 200 {
					errs <- "login " + string(r.Body)
					return
				}
				tok := r.json(t)["token"].(map[string]any)
				if c := call(t, s, "GET", "/api/v1/users/all", tok["access_token"].(string)).Code; c != 200 {
					errs <- "call"
				}
				if c := refresh(t, s, "api", tok["refresh_token"].(string)).Code; c != 200 {
					errs <- "refresh"
				}
				d := newTestDevice("conc-" + string(rune('a'+i)) + string(rune('a'+j)))
				if c := d.poll(t, s, d.register(t, s)).Code; c != 200 {
					errs <- "device"
				}
				adminDo(t, s, "GET", "/admin/api/devices", "")
				_ = s.Sweep()
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestReuseWhilePendingRevokesFamily: a spent device refresh token presented
// while its device waits for approval again is still reuse (3.4): the
// family is revoked, so its current token does not come back to life when
// the device is approved. (Found by paragon scenario explore.)
func TestReuseWhilePendingRevokesFamily(t *testing.T) {
	s := newTestServer(t)
	id := "nokey-reuse"
	r := postForm(t, s, "/oauth/v1/register", regForm(id), nil)
	code := r.json(t)["device_code"].(string)
	adminDo(t, s, "POST", "/admin/api/devices/"+id+"/approve", "")
	r = postForm(t, s, "/oauth/v1/token", url.Values{"client_id": {id}, "client_secret": {testKey}, "grant_type": {"device_code"}, "device_code": {code}}, nil)
	if r.Code != 200 {
		t.Fatalf("device token: %d %s", r.Code, r.Body)
	}
	rt1 := r.json(t)["refresh_token"].(string)
	r = refresh(t, s, id, rt1)
	if r.Code != 200 {
		t.Fatalf("first refresh: %d %s", r.Code, r.Body)
	}
	rt2 := r.json(t)["refresh_token"].(string)
	// The device registers again without a key: pending.
	postForm(t, s, "/oauth/v1/register", regForm(id), nil)
	if r := refresh(t, s, id, rt1); r.errCode(t) != "invalid_grant" {
		t.Fatalf("spent token while pending: %d %s", r.Code, r.Body)
	}
	adminDo(t, s, "POST", "/admin/api/devices/"+id+"/approve", "")
	if r := refresh(t, s, id, rt2); r.Code != 400 || r.errCode(t) != "invalid_grant" {
		t.Fatalf("the family survived the reuse of its spent token: %d %s", r.Code, r.Body)
	}
}
