package keystore

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// backends returns a fresh instance of every writable backend that needs no
// OS service (the keyring one over an in-memory fake).
func backends(t *testing.T) map[string]Store {
	t.Helper()
	return map[string]Store{
		"memory":  NewMemory(),
		"file":    NewFile(filepath.Join(t.TempDir(), "paragon", FileName)),
		"keyring": &Keyring{timeout: time.Second, backend: newFakeKeyring()},
	}
}

func TestBackendsRoundTrip(t *testing.T) {
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Get("work", ItemAPIKey); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get of absent item: err = %v, want ErrNotFound", err)
			}
			if err := s.Set("work", ItemAPIKey, "k1"); err != nil {
				t.Fatal(err)
			}
			if err := s.Set("home", ItemAPIKey, "k2"); err != nil {
				t.Fatal(err)
			}
			if err := s.Set("work", ItemAPIKey, "k3"); err != nil { // replace
				t.Fatal(err)
			}
			for _, c := range []struct{ profile, want string }{{"work", "k3"}, {"home", "k2"}} {
				if v, err := s.Get(c.profile, ItemAPIKey); err != nil || v != c.want {
					t.Fatalf("Get(%s) = %q, %v; want %q", c.profile, v, err, c.want)
				}
			}
			if err := s.Delete("work", ItemAPIKey); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get("work", ItemAPIKey); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
			}
			if err := s.Delete("work", ItemAPIKey); err != nil {
				t.Fatalf("Delete of an absent item: %v, want nil", err)
			}
			if v, err := s.Get("home", ItemAPIKey); err != nil || v != "k2" {
				t.Fatalf("other profile disturbed: %q, %v", v, err)
			}
		})
	}
}

func TestBackendsSizeLimit(t *testing.T) {
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ok := strings.Repeat("a", MaxValueBytes-1)
			if err := s.Set("p", ItemDevicePrivateKey, ok); err != nil {
				t.Fatalf("%d bytes refused: %v", len(ok), err)
			}
			big := strings.Repeat("S", MaxValueBytes)
			err := s.Set("p", ItemDeviceRefreshToken, big)
			if !errors.Is(err, ErrTooBig) {
				t.Fatalf("%d bytes: err = %v, want ErrTooBig", len(big), err)
			}
			msg := err.Error()
			if !strings.Contains(msg, ItemDeviceRefreshToken) || !strings.Contains(msg, "2500") {
				t.Errorf("error %q should name the item and the limit", msg)
			}
			if strings.Contains(msg, "SSSS") {
				t.Errorf("error leaks the value: %q", msg)
			}
			if _, err := s.Get("p", ItemDeviceRefreshToken); !errors.Is(err, ErrNotFound) {
				t.Errorf("refused value was stored anyway: %v", err)
			}
			// A batch with one oversized entry writes nothing.
			err = SetItems(s, "p", []Entry{{ItemUserName, "alice"}, {ItemUserRefreshToken, big}})
			if !errors.Is(err, ErrTooBig) {
				t.Fatalf("SetItems: err = %v, want ErrTooBig", err)
			}
			if _, err := s.Get("p", ItemUserName); !errors.Is(err, ErrNotFound) {
				t.Errorf("SetItems wrote part of a refused batch: %v", err)
			}
		})
	}
}

func TestBackendsRejectBadNames(t *testing.T) {
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct{ profile, item string }{
				{"", ItemAPIKey}, {"../x", ItemAPIKey}, {".hidden", ItemAPIKey},
				{"a b", ItemAPIKey}, {strings.Repeat("p", 65), ItemAPIKey},
				{"ok", ""}, {"ok", "a/b"},
			} {
				if err := s.Set(c.profile, c.item, "v"); !errors.Is(err, ErrInvalidName) {
					t.Errorf("Set(%q, %q): err = %v, want ErrInvalidName", c.profile, c.item, err)
				}
				if _, err := s.Get(c.profile, c.item); !errors.Is(err, ErrInvalidName) {
					t.Errorf("Get(%q, %q): err = %v, want ErrInvalidName", c.profile, c.item, err)
				}
			}
		})
	}
}

func TestAccessTokenJSON(t *testing.T) {
	exp := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	s := NewMemory()
	if err := SetAccessToken(s, "p", ItemUserAccessToken, AccessToken{Token: "at-1", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	raw, _ := s.Get("p", ItemUserAccessToken)
	if raw != `{"access_token":"at-1","expiry":"2026-11-26T18:00:00Z"}` {
		t.Errorf("stored form = %s", raw)
	}
	got, err := GetAccessToken(s, "p", ItemUserAccessToken)
	if err != nil || got.Token != "at-1" || !got.Expiry.Equal(exp) {
		t.Fatalf("GetAccessToken = %+v, %v", got, err)
	}
	if _, err := EncodeAccessToken(AccessToken{}); err == nil {
		t.Error("empty token encoded")
	}
	s.Set("p", ItemDeviceAccessToken, "not-json-secretvalue")
	_, err = GetAccessToken(s, "p", ItemDeviceAccessToken)
	if err == nil || strings.Contains(err.Error(), "secretvalue") || !strings.Contains(err.Error(), ItemDeviceAccessToken) {
		t.Errorf("bad JSON: err = %v (must name the item, not the value)", err)
	}
	// No expiry round-trips as zero (PARAGON_TOKEN's form).
	enc, _ := EncodeAccessToken(AccessToken{Token: "x"})
	if enc != `{"access_token":"x"}` {
		t.Errorf("zero expiry encoded as %s", enc)
	}
}

func TestLoadSaveTokens(t *testing.T) {
	exp := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadTokens(s, "p", UserTokens); !errors.Is(err, ErrNotFound) {
				t.Fatalf("empty: err = %v, want ErrNotFound", err)
			}
			if err := SaveTokens(s, "p", UserTokens, Tokens{AccessToken: "u-at", Expiry: exp, RefreshToken: "u-rt"}); err != nil {
				t.Fatal(err)
			}
			if err := SaveTokens(s, "p", DeviceTokens, Tokens{AccessToken: "d-at", Expiry: exp, RefreshToken: "d-rt"}); err != nil {
				t.Fatal(err)
			}
			u, err := LoadTokens(s, "p", UserTokens)
			if err != nil || u.AccessToken != "u-at" || u.RefreshToken != "u-rt" || !u.Expiry.Equal(exp) {
				t.Fatalf("user tokens = %+v, %v", u, err)
			}
			d, err := LoadTokens(s, "p", DeviceTokens)
			if err != nil || d.AccessToken != "d-at" || d.RefreshToken != "d-rt" {
				t.Fatalf("device tokens = %+v, %v", d, err)
			}
			// Without a refresh token the stored one stays.
			if err := SaveTokens(s, "p", UserTokens, Tokens{AccessToken: "u-at2", Expiry: exp}); err != nil {
				t.Fatal(err)
			}
			u, _ = LoadTokens(s, "p", UserTokens)
			if u.AccessToken != "u-at2" || u.RefreshToken != "u-rt" {
				t.Fatalf("after access-only save: %+v", u)
			}
			// Only a refresh token stored: loads with an empty access token.
			s.Delete("p", ItemUserAccessToken)
			u, err = LoadTokens(s, "p", UserTokens)
			if err != nil || u.AccessToken != "" || u.RefreshToken != "u-rt" {
				t.Fatalf("refresh-only load = %+v, %v", u, err)
			}
			if err := SaveTokens(s, "p", UserTokens, Tokens{}); err == nil {
				t.Error("saving nothing succeeded")
			}
		})
	}
}

// orderStore records the order of Sets (it is not a Batcher).
type orderStore struct {
	mem   *Memory
	order []string
	fail  string
}

func (o *orderStore) Name() string                      { return "order" }
func (o *orderStore) Get(p, i string) (string, error)   { return o.mem.Get(p, i) }
func (o *orderStore) Delete(profile, item string) error { return o.mem.Delete(profile, item) }

func (o *orderStore) Set(profile, item, value string) error {
	o.order = append(o.order, item)
	if item == o.fail {
		return errors.New("disk full")
	}
	return o.mem.Set(profile, item, value)
}

func TestSaveTokensRefreshTokenFirst(t *testing.T) {
	o := &orderStore{mem: NewMemory(), fail: ItemUserAccessToken}
	err := SaveTokens(o, "p", UserTokens, Tokens{AccessToken: "at", Expiry: time.Now(), RefreshToken: "rt-new"})
	if err == nil {
		t.Fatal("failed Set not reported")
	}
	if strings.Join(o.order, ",") != ItemUserRefreshToken+","+ItemUserAccessToken {
		t.Errorf("order = %v, want refresh token first", o.order)
	}
	if v, _ := o.mem.Get("p", ItemUserRefreshToken); v != "rt-new" {
		t.Errorf("rotated refresh token not saved before the failure: %q", v)
	}
}

func TestEnvStore(t *testing.T) {
	env := map[string]string{EnvToken: "env-at", EnvAPIKey: "env-key"}
	e := NewEnv(func(k string) string { return env[k] })
	if v, err := e.Get("any", ItemAPIKey); err != nil || v != "env-key" {
		t.Errorf("api key = %q, %v", v, err)
	}
	at, err := GetAccessToken(e, "other", ItemUserAccessToken)
	if err != nil || at.Token != "env-at" || !at.Expiry.IsZero() {
		t.Errorf("user token = %+v, %v", at, err)
	}
	if _, err := e.Get("any", ItemUserRefreshToken); !errors.Is(err, ErrNotFound) {
		t.Errorf("refresh token: err = %v, want ErrNotFound", err)
	}
	err = e.Set("p", ItemAPIKey, "secret-v")
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), EnvAPIKey) || strings.Contains(err.Error(), "secret-v") {
		t.Errorf("Set: err = %v", err)
	}
	if err := e.Delete("p", ItemAPIKey); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Delete: err = %v", err)
	}
	delete(env, EnvAPIKey)
	if _, err := e.Get("any", ItemAPIKey); !errors.Is(err, ErrNotFound) {
		t.Errorf("unset variable: err = %v, want ErrNotFound", err)
	}
	if NewEnv(nil).Name() != "environment" {
		t.Error("name")
	}
}

func TestLayeredEnvWinsAndReportsSource(t *testing.T) {
	env := map[string]string{}
	back := NewMemory()
	l := WithEnv(back, func(k string) string { return env[k] })
	back.Set("p", ItemAPIKey, "stored-key")
	back.Set("p", ItemUserRefreshToken, "rt")

	v, src, err := l.Lookup("p", ItemAPIKey)
	if err != nil || v != "stored-key" || src != "memory" {
		t.Errorf("no env: %q from %q, %v", v, src, err)
	}
	env[EnvAPIKey] = "env-key"
	v, src, err = l.Lookup("p", ItemAPIKey)
	if err != nil || v != "env-key" || src != "environment" {
		t.Errorf("env set: %q from %q, %v", v, src, err)
	}
	if v, _ := l.Get("p", ItemUserRefreshToken); v != "rt" {
		t.Errorf("fall-through Get = %q", v)
	}
	if _, _, err := l.Lookup("p", ItemDeviceID); !errors.Is(err, ErrNotFound) {
		t.Errorf("absent: %v", err)
	}
	// Writes go to the backing store, even while the environment shadows.
	if err := l.Set("p", ItemAPIKey, "new-key"); err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Get("p", ItemAPIKey); v != "new-key" {
		t.Errorf("backing store has %q", v)
	}
	if err := SaveTokens(l, "p", UserTokens, Tokens{AccessToken: "at", RefreshToken: "rt2"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Get("p", ItemUserRefreshToken); v != "rt2" {
		t.Errorf("SaveTokens through Layered: %q", v)
	}
	if err := l.Delete("p", ItemAPIKey); err != nil {
		t.Fatal(err)
	}
	if _, err := back.Get("p", ItemAPIKey); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete did not reach the backing store")
	}
	if l.Name() != "memory" {
		t.Errorf("Name = %q", l.Name())
	}
}
