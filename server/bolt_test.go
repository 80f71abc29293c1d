package server

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"
)

// boltServer opens the state file at path and starts a server on it with a
// fixed base clock, so that restarts see the same fake time.
func boltServer(t *testing.T, path string, base time.Time) *Server {
	t.Helper()
	st, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{PasswordCost: bcrypt.MinCost, FakeClock: true, AdminToken: "admin-secret", Store: st,
		Now: func() time.Time { return base }})
	if err != nil {
		_ = st.Close()
		t.Fatal(err)
	}
	return s
}

func TestBoltRestartRestoresState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := boltServer(t, path, base)
	d := newTestDevice("persist")
	dt, drt := trustedDevice(t, s, d)
	newTestDevice("pending-one").register(t, s)
	_, rt1 := userToken(t, s, dt, "alice", "wonderland")
	m := refresh(t, s, "api", rt1).json(t)
	at2, rt2 := m["access_token"].(string), m["refresh_token"].(string)
	carol, _ := userToken(t, s, dt, "carol", "queen-of-hearts")
	dave := url.Values{"username": {"dave"}, "detailtype": {"3"}, "detaildata": {"pw-dave"}}
	if r := do(t, s, req{method: "PUT", path: "/api/v1/users", body: dave.Encode(), ctype: "application/x-www-form-urlencoded",
		headers: map[string]string{"X-Api-Key": testKey, "Authorization": "Bearer " + carol}}); r.Code != 201 {
		t.Fatalf("create dave: %d %s", r.Code, r.Body)
	}
	if r := call(t, s, "DELETE", "/api/v1/users/bob", carol); r.Code != 200 {
		t.Fatalf("delete bob: %d", r.Code)
	}
	if r := submit(t, s, at2, "kept", []byte("%PDF")); r.Code != 201 {
		t.Fatalf("submit: %d", r.Code)
	}
	adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"allow_unauthenticated":true}`)
	adminDo(t, s, "PATCH", "/admin/api/settings", `{"refresh_grace":"7s"}`)
	advance(t, s, 10*time.Minute)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := boltServer(t, path, base)
	defer s2.Close()
	if got := s2.Now(); !got.Equal(base.Add(10 * time.Minute)) {
		t.Errorf("clock %v", got)
	}
	devs := adminDo(t, s2, "GET", "/admin/api/devices", "").json(t)["items"].([]any)
	if len(devs) != 2 {
		t.Errorf("devices %v", devs)
	}
	// The device token still logs in; the access token still works.
	if r := login(t, s2, dt, pw("alice", "wonderland")); r.Code != 200 {
		t.Errorf("device token after restart: %d %s", r.Code, r.Body)
	}
	if r := call(t, s2, "GET", "/api/v1/documents/history", at2); r.Code != 200 || !strings.Contains(string(r.Body), `"kept"`) {
		t.Errorf("access token / documents after restart: %d %s", r.Code, r.Body)
	}
	// Device refresh token survives (signed).
	if r := d.signedPost(t, s2, "/oauth/v1/token", url.Values{"client_id": {"persist"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {drt}}); r.Code != 200 {
		t.Errorf("device refresh after restart: %d %s", r.Code, r.Body)
	}
	// The rotated user refresh token works; the spent one is still detected.
	if r := refresh(t, s2, "api", rt2); r.Code != 200 {
		t.Errorf("refresh after restart: %d %s", r.Code, r.Body)
	}
	if r := refresh(t, s2, "api", rt1); r.errCode(t) != "invalid_grant" {
		t.Errorf("spent token after restart: %s", r.Body)
	}
	if r := login(t, s2, dt, pw("dave", "pw-dave")); r.Code != 200 {
		t.Errorf("dave after restart: %d", r.Code)
	}
	if r := login(t, s2, dt, pw("bob", "builder")); r.Code != 401 {
		t.Errorf("bob after restart: %d", r.Code)
	}
	if k := adminDo(t, s2, "GET", "/admin/api/keys", "").Body; !strings.Contains(string(k), `"allow_unauthenticated":true`) {
		t.Errorf("key switch lost: %s", k)
	}
	if set := adminDo(t, s2, "GET", "/admin/api/settings", "").json(t); set["refresh_grace"] != "7s" {
		t.Errorf("settings lost: %v", set)
	}
	// Reset clears the file too.
	adminDo(t, s2, "POST", "/admin/api/reset", "")
	s2.Close()
	s3 := boltServer(t, path, base)
	defer s3.Close()
	if r := login(t, s3, "", pw("bob", "builder")); r.Code != 403 { // device token needed again: key reset
		t.Errorf("after reset: %d %s", r.Code, r.Body)
	}
	if n := s3.store.(*BoltStore).Len(); n != 0 {
		t.Errorf("%d records after reset", n)
	}
}

func TestBoltRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	t.Run("garbage", func(t *testing.T) {
		p := filepath.Join(dir, "garbage.db")
		if err := os.WriteFile(p, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenBoltStore(p)
		if !errors.Is(err, ErrStateFile) || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("err %v", err)
		}
		if b, _ := os.ReadFile(p); !strings.HasPrefix(string(b), "not a database") {
			t.Fatal("file was changed")
		}
	})
	t.Run("other version", func(t *testing.T) {
		p := filepath.Join(dir, "v0.db")
		st, err := OpenBoltStore(p)
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		db, _ := bolt.Open(p, 0o600, nil)
		_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Put(schemaKey, []byte("0")) })
		_ = db.Close()
		_, err = OpenBoltStore(p)
		if !errors.Is(err, ErrStateFile) || !strings.Contains(err.Error(), `version "0"`) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("foreign bbolt file", func(t *testing.T) {
		p := filepath.Join(dir, "foreign.db")
		db, _ := bolt.Open(p, 0o600, nil)
		_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
		_ = db.Close()
		if _, err := OpenBoltStore(p); !errors.Is(err, ErrStateFile) || !strings.Contains(err.Error(), "not a paragon state file") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("damaged record", func(t *testing.T) {
		p := filepath.Join(dir, "record.db")
		st, _ := OpenBoltStore(p)
		_ = st.Commit(Batch{Records: []Record{{Kind: KindFamily, Key: "x", Value: []byte("{broken")}}})
		_ = st.Close()
		st, err := OpenBoltStore(p)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := New(Options{Store: st, PasswordCost: bcrypt.MinCost}); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		p := filepath.Join(dir, "cut.db")
		s := boltServer(t, p, time.Now())
		for i := 0; i < 50; i++ {
			newTestDevice("dev-"+strings.Repeat("y", i)).register(t, s)
		}
		s.Close()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		// Cut inside the used pages: bbolt would map the file and crash
		// (SIGBUS) reading past its end.
		size := int64(3 * os.Getpagesize())
		if fi.Size() <= size {
			t.Fatalf("only %d bytes to cut", fi.Size())
		}
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		_, err = OpenBoltStore(p)
		if !errors.Is(err, ErrStateFile) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("err %v", err)
		}
		if fi, _ := os.Stat(p); fi.Size() != size {
			t.Fatalf("file was changed: %d bytes", fi.Size())
		}
	})
	t.Run("damaged pages", func(t *testing.T) {
		p := filepath.Join(dir, "pages.db")
		s := boltServer(t, p, time.Now())
		for i := 0; i < 50; i++ {
			newTestDevice("dev-"+strings.Repeat("x", i)).register(t, s)
		}
		s.Close()
		b, _ := os.ReadFile(p)
		// Overwrite everything after the two meta pages.
		for i := 2 * os.Getpagesize(); i < len(b); i++ {
			b[i] = 0xA5
		}
		_ = os.WriteFile(p, b, 0o600)
		_, err := OpenBoltStore(p)
		if !errors.Is(err, ErrStateFile) {
			t.Fatalf("err %v", err)
		}
	})
}

// TestSweepShrinksState: expired tokens, refused devices and stale pending
// devices are removed from memory and from the store.
func TestSweepShrinksState(t *testing.T) {
	st := NewMemoryStore()
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = st })
	for i := 0; i < 20; i++ {
		_, rt := userToken(t, s, "", "alice", "wonderland")
		refresh(t, s, "api", rt)
	}
	newTestDevice("refused").register(t, s)
	adminDo(t, s, "POST", "/admin/api/devices/refused/refuse", "")
	newTestDevice("stale").register(t, s)
	trustedDevice(t, s, newTestDevice("kept"))
	before := st.Len()
	if before < 23 {
		t.Fatalf("only %d records", before)
	}
	advance(t, s, 2160*time.Hour)
	if err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	// Left: the trusted device (its family expired too) and the fake clock.
	if n := st.Len(); n != 2 {
		t.Fatalf("%d records after sweep (before %d)", n, before)
	}
	s.mu.Lock()
	nf, nt, nd := s.st.families, len(s.st.tokens), len(s.st.devices)
	s.mu.Unlock()
	if nf != 0 || nt != 0 || nd != 1 {
		t.Fatalf("families %d tokens %d devices %d", nf, nt, nd)
	}
}

// TestSweepOnStart: a server started on a store with expired state sweeps it.
func TestSweepOnStart(t *testing.T) {
	st := NewMemoryStore()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = st; o.Now = func() time.Time { return base } })
	userToken(t, s, "", "alice", "wonderland")
	s.Close()
	if st.Len() != 1 {
		t.Fatalf("%d records", st.Len())
	}
	later := base.Add(2161 * time.Hour)
	newTestServer(t, func(o *Options) { o.Store = st; o.Now = func() time.Time { return later } })
	if st.Len() != 0 {
		t.Fatalf("%d records after start", st.Len())
	}
}

func TestBoltLocked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "locked.db")
	st, err := OpenBoltStore(p)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := OpenBoltStore(p); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("err %v", err)
	}
}

// crashCopyFiles copies the state file at path and its write-ahead logs to
// cp, as a crash of the process would leave them on disk.
func crashCopyFiles(t testing.TB, path, cp string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-wal-old"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cp+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBoltAcknowledgedIsDurable copies the state file and its write-ahead
// log right after each answer, as a crash would leave it, and checks that a server started on the
// copy accepts what the answer handed out.
func TestBoltAcknowledgedIsDurable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := boltServer(t, path, base)
	defer s.Close()
	n := 0
	crashCopy := func() *Server {
		t.Helper()
		n++
		cp := filepath.Join(dir, "crash"+strings.Repeat("x", n)+".db")
		crashCopyFiles(t, path, cp)
		return boltServer(t, cp, base)
	}
	d := newTestDevice("durable")
	code := d.register(t, s)
	adminDo(t, s, "POST", "/admin/api/devices/durable/approve", "")
	m := d.poll(t, s, code).json(t)
	dt, drt := m["access_token"].(string), m["refresh_token"].(string)
	c := crashCopy()
	if r := login(t, c, dt, pw("alice", "wonderland")); r.Code != 200 {
		t.Fatalf("device token lost: %d %s", r.Code, r.Body)
	}
	c.Close()
	_, rt := userToken(t, s, dt, "alice", "wonderland")
	for i := 0; i < 3; i++ {
		rt = refresh(t, s, "api", rt).json(t)["refresh_token"].(string)
		c := crashCopy()
		if r := refresh(t, c, "api", rt); r.Code != 200 {
			t.Fatalf("refresh token %d lost: %d %s", i, r.Code, r.Body)
		}
		c.Close()
	}
	m = d.signedPost(t, s, "/oauth/v1/token", url.Values{"client_id": {"durable"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {drt}}).json(t)
	c = crashCopy()
	defer c.Close()
	if r := d.signedPost(t, c, "/oauth/v1/token", url.Values{"client_id": {"durable"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}}); r.Code != 200 {
		t.Fatalf("device refresh token lost: %d %s", r.Code, r.Body)
	}
}

// TestLongestLifetimeSurvivesRestart: the longest accepted lifetime (100
// years), with the fake clock moved 100 years ahead too, is stored so that
// the tokens still work after a restart; a longer one is refused with 400.
// (Lifetimes of about 136 years or more used to be accepted, and their
// tokens were lost on restart: the stored UnixNano times wrapped around.)
func TestLongestLifetimeSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := boltServer(t, path, base)
	adminDo(t, s, "PATCH", "/admin/api/keys/default", `{"allow_untrusted":true}`)
	for _, field := range []string{"access_token_ttl", "refresh_token_ttl", "device_code_ttl", "refresh_grace"} {
		r := do(t, s, req{method: "PATCH", path: "/admin/api/settings", body: `{"` + field + `":"2562047h"}`, ctype: "application/json",
			headers: map[string]string{"Authorization": "Bearer " + s.AdminToken()}})
		if r.Code != 400 || r.errCode(t) != "invalid_request" || !strings.Contains(string(r.Body), "at most 876000h0m0s (100 years)") {
			t.Errorf("%s of 2562047h: %d %s", field, r.Code, r.Body)
		}
		if r := adminDo(t, s, "PATCH", "/admin/api/settings", `{"`+field+`":"876000h"}`); r.Code != 200 {
			t.Errorf("%s of 876000h: %d %s", field, r.Code, r.Body)
		}
	}
	advance(t, s, maxClockOffset)
	at, rt := userToken(t, s, "", "alice", "wonderland")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := boltServer(t, path, base)
	defer s2.Close()
	if r := call(t, s2, "GET", "/api/v1/version", at); r.Code != 200 {
		t.Errorf("access token after restart: %d %s", r.Code, r.Body)
	}
	if r := refresh(t, s2, "api", rt); r.Code != 200 {
		t.Errorf("refresh token after restart: %d %s", r.Code, r.Body)
	}
}

// TestStoredOverlongLifetimeIsClamped: a state file written before the
// 100-year bound may hold a longer lifetime; it loads as 100 years instead
// of making the file unusable.
func TestStoredOverlongLifetimeIsClamped(t *testing.T) {
	st := NewMemoryStore()
	if err := st.Commit(Batch{Records: []Record{{Kind: KindSettings, Key: "account", Value: []byte(`{"refresh_token_ttl":"2562047h","access_token_ttl":"2h"}`)}}}); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, func(o *Options) { o.Store = st })
	set := adminDo(t, s, "GET", "/admin/api/settings", "").json(t)
	if set["refresh_token_ttl"] != "876000h0m0s" || set["access_token_ttl"] != "2h0m0s" {
		t.Errorf("settings %v", set)
	}
}
