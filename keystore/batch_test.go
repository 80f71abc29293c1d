package keystore

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestGetItems(t *testing.T) {
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			if vals, err := GetItems(s, "p", ItemAPIKey, ItemUserRefreshToken); err != nil || len(vals) != 0 {
				t.Fatalf("empty store: %v, %v; want an empty map", vals, err)
			}
			s.Set("p", ItemAPIKey, "k")
			s.Set("p", ItemUserRefreshToken, "rt")
			s.Set("other", ItemUserAccessToken, "not p's")
			vals, err := GetItems(s, "p", ItemAPIKey, ItemUserAccessToken, ItemUserRefreshToken)
			want := map[string]string{ItemAPIKey: "k", ItemUserRefreshToken: "rt"}
			if err != nil || !maps.Equal(vals, want) {
				t.Fatalf("GetItems = %v, %v; want %v (the absent item left out)", vals, err, want)
			}
			if _, err := GetItems(s, "p", ItemAPIKey, "bad/name"); !errors.Is(err, ErrInvalidName) {
				t.Errorf("bad item name: %v", err)
			}
		})
	}
}

func TestLayeredGetItemsEnvWins(t *testing.T) {
	mem := NewMemory()
	mem.Set("p", ItemAPIKey, "stored-key")
	mem.Set("p", ItemUserAccessToken, `{"access_token":"stored"}`)
	mem.Set("p", ItemUserRefreshToken, "rt")
	env := map[string]string{EnvAPIKey: "env-key"}
	l := WithEnv(mem, func(k string) string { return env[k] })
	vals, err := GetItems(l, "p", ItemAPIKey, ItemUserAccessToken, ItemUserRefreshToken, ItemDeviceID)
	want := map[string]string{ItemAPIKey: "env-key", ItemUserAccessToken: `{"access_token":"stored"}`, ItemUserRefreshToken: "rt"}
	if err != nil || !maps.Equal(vals, want) {
		t.Fatalf("GetItems = %v, %v; want %v", vals, err, want)
	}
}

func TestTokensFrom(t *testing.T) {
	exp := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	at, _ := EncodeAccessToken(AccessToken{Token: "at", Expiry: exp})
	got, err := TokensFrom(map[string]string{ItemDeviceAccessToken: at, ItemDeviceRefreshToken: "rt", ItemUserRefreshToken: "user's"}, "p", DeviceTokens)
	if err != nil || got.AccessToken != "at" || got.RefreshToken != "rt" || !got.Expiry.Equal(exp) {
		t.Errorf("TokensFrom = %+v, %v", got, err)
	}
	if _, err := TokensFrom(map[string]string{ItemDeviceRefreshToken: "rt"}, "p", UserTokens); !errors.Is(err, ErrNotFound) {
		t.Errorf("no user tokens: %v, want ErrNotFound", err)
	}
	_, err = TokensFrom(map[string]string{ItemUserAccessToken: "secret-not-json"}, "p", UserTokens)
	if err == nil || strings.Contains(err.Error(), "secret-not-json") || !strings.Contains(err.Error(), ItemUserAccessToken) {
		t.Errorf("undecodable access token: %v (must name the item, never quote the value)", err)
	}
}

// roundKeyring is a fake Secret Service backend: it reads several items in
// one call (getMany) and can probe and read in one call, and counts both.
type roundKeyring struct {
	*fakeKeyring
	rounds int
}

func (r *roundKeyring) probe() error {
	r.rounds++
	return nil
}

func (r *roundKeyring) probeAndRead(service string, users []string) (map[string]string, error) {
	r.rounds++
	return r.read(service, users), nil
}

func (r *roundKeyring) getMany(service string, users []string) (map[string]string, error) {
	r.rounds++
	return r.read(service, users), nil
}

func (r *roundKeyring) read(service string, users []string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	vals := map[string]string{}
	for _, u := range users {
		if v, ok := r.m[service+"\x00"+u]; ok {
			vals[u] = v
		}
	}
	return vals
}

func TestKeyringGetItemsInOneRound(t *testing.T) {
	fake := &roundKeyring{fakeKeyring: newFakeKeyring()}
	k := &Keyring{timeout: time.Second, backend: fake}
	k.Set("p", ItemAPIKey, "k")
	k.Set("p", ItemUserRefreshToken, "rt")
	fake.calls = 0
	vals, err := k.GetItems("p", []string{ItemAPIKey, ItemUserAccessToken, ItemUserRefreshToken})
	if err != nil || len(vals) != 2 || fake.rounds != 1 || fake.calls != 0 {
		t.Fatalf("GetItems = %v, %v in %d rounds and %d single calls; want 2 items in one round", vals, err, fake.rounds, fake.calls)
	}
}

// Open with Prefetch reads the items with its probe; the first GetItems
// returns them without another round, and every later read asks the
// keyring again (another process may have refreshed meanwhile).
func TestOpenPrefetchServesOnlyTheFirstRead(t *testing.T) {
	fake := &roundKeyring{fakeKeyring: newFakeKeyring()}
	k := &Keyring{timeout: time.Second, backend: fake}
	k.Set("p", ItemAPIKey, "k")
	k.Set("p", ItemUserRefreshToken, "rt-0")
	hot := []string{ItemAPIKey, ItemUserAccessToken, ItemUserRefreshToken}
	s, _, err := Open(ChoiceKeyring, Options{Dir: t.TempDir(), keyring: k, Prefetch: &Prefetch{Profile: "p", Items: hot}})
	if err != nil || s != Store(k) || fake.rounds != 1 {
		t.Fatalf("Open: %v, %v after %d rounds; want the keyring after one", s, err, fake.rounds)
	}
	fake.Set(KeyringService("p"), ItemUserRefreshToken, "rt-1") // another process rotates
	vals, err := GetItems(s, "p", hot...)
	if err != nil || vals[ItemUserRefreshToken] != "rt-0" || vals[ItemAPIKey] != "k" || fake.rounds != 1 {
		t.Fatalf("first read = %v, %v after %d rounds; want what the probe read, no new round", vals, err, fake.rounds)
	}
	vals, err = GetItems(s, "p", ItemUserAccessToken, ItemUserRefreshToken)
	if err != nil || vals[ItemUserRefreshToken] != "rt-1" || fake.rounds != 2 {
		t.Fatalf("second read = %v, %v after %d rounds; want a fresh read", vals, err, fake.rounds)
	}

	// A write, another profile or an item the probe did not read all go to
	// the keyring.
	for name, read := range map[string]func(*Keyring) (map[string]string, error){
		"after a write": func(k *Keyring) (map[string]string, error) {
			k.Set("p", ItemUserName, "alice")
			return k.GetItems("p", hot)
		},
		"other profile": func(k *Keyring) (map[string]string, error) { return k.GetItems("q", hot) },
		"other item":    func(k *Keyring) (map[string]string, error) { return k.GetItems("p", []string{ItemDeviceID}) },
	} {
		k.probe(&Prefetch{Profile: "p", Items: hot})
		before := fake.rounds
		if _, err := read(k); err != nil || fake.rounds != before+1 {
			t.Errorf("%s: %v, %d rounds; want one fresh round", name, err, fake.rounds-before)
		}
	}
}
