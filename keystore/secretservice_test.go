package keystore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// requireSecretServiceEnv, when set to 1 (as .ci/run does), turns the
// Secret Service tests' skip into a failure, so CI cannot pass without
// running them.
const requireSecretServiceEnv = "PARAGON_REQUIRE_SECRET_SERVICE"

// secretService returns the real OS keyring store, or skips when there is no
// usable Secret Service on a session bus (or secret-tool is missing).
func secretService(t *testing.T) *Keyring {
	t.Helper()
	skip := func(why string) {
		msg := "no Secret Service (" + why + "): run under `dbus-run-session` with `gnome-keyring-daemon --unlock --components=secrets` (see .ci/run)"
		if os.Getenv(requireSecretServiceEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		skip("DBUS_SESSION_BUS_ADDRESS is unset")
	}
	if _, err := exec.LookPath("secret-tool"); err != nil {
		skip("secret-tool, from libsecret-tools, is not installed")
	}
	k := NewKeyring(0)
	if err := k.Probe(); err != nil {
		skip(err.Error())
	}
	return k
}

// testProfile is a profile name no other test run uses; its items are
// deleted when the test ends.
func testProfile(t *testing.T, k *Keyring) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	p := fmt.Sprintf("kstest-%d-%s", os.Getpid(), hex.EncodeToString(b))
	t.Cleanup(func() {
		for _, it := range Items {
			k.Delete(p, it)
		}
	})
	return p
}

// secretTool runs secret-tool (an independent Secret Service client) and
// returns its stdout and stderr together (search prints attributes on
// stderr), and its exit error.
func secretTool(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("secret-tool", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// randomSecret returns a value that appears nowhere else.
func randomSecret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "sekrit-" + hex.EncodeToString(b)
}

func TestKeyringSecretServiceSeenBySecretTool(t *testing.T) {
	k := secretService(t)
	p := testProfile(t, k)
	svc := "paragon:" + p

	v1 := randomSecret()
	if err := k.Set(p, ItemUserRefreshToken, v1); err != nil {
		t.Fatal(err)
	}
	out, err := secretTool(t, "", "search", "--all", "service", svc)
	if err != nil {
		t.Fatalf("secret-tool search: %v\n%s", err, out)
	}
	for _, want := range []string{"attribute.service = " + svc, "attribute.username = " + ItemUserRefreshToken, "secret = " + v1} {
		if !strings.Contains(out, want) {
			t.Errorf("secret-tool search lacks %q:\n%s", want, out)
		}
	}
	t.Logf("secret-tool search --all service %s found:\n%s", svc, strings.ReplaceAll(out, v1, "<the value paragon stored>"))

	// Replacing keeps one item.
	v2 := randomSecret()
	if err := k.Set(p, ItemUserRefreshToken, v2); err != nil {
		t.Fatal(err)
	}
	out, _ = secretTool(t, "", "search", "--all", "service", svc)
	if n := strings.Count(out, "attribute.username = "+ItemUserRefreshToken); n != 1 {
		t.Errorf("%d items after replacing, want 1:\n%s", n, out)
	}
	if got, err := secretTool(t, "", "lookup", "service", svc, "username", ItemUserRefreshToken); err != nil || got != v2 {
		t.Errorf("secret-tool lookup = %q, %v; want the replaced value", got, err)
	}

	// And the other way: what secret-tool stores, paragon reads.
	if out, err := secretTool(t, "dev-1234", "store", "--label=test", "service", svc, "username", ItemDeviceID); err != nil {
		t.Fatalf("secret-tool store: %v\n%s", err, out)
	}
	if got, err := k.Get(p, ItemDeviceID); err != nil || got != "dev-1234" {
		t.Errorf("Get of an item stored by secret-tool = %q, %v", got, err)
	}

	// Delete removes it from the keyring, as the independent client sees it.
	if err := k.Delete(p, ItemUserRefreshToken); err != nil {
		t.Fatal(err)
	}
	out, _ = secretTool(t, "", "search", "--all", "service", svc)
	if strings.Contains(out, ItemUserRefreshToken) || strings.Contains(out, v2) {
		t.Errorf("secret-tool still finds the deleted item:\n%s", out)
	}
	if !strings.Contains(out, "attribute.username = "+ItemDeviceID) {
		t.Errorf("Delete removed more than its item:\n%s", out)
	}
	if got, err := secretTool(t, "", "lookup", "service", svc, "username", ItemUserRefreshToken); err == nil || got != "" {
		t.Errorf("secret-tool lookup after Delete = %q, %v; want nothing", got, err)
	}
	if _, err := k.Get(p, ItemUserRefreshToken); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := k.Delete(p, ItemUserRefreshToken); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func TestKeyringSecretServiceOpenAutoAndTokens(t *testing.T) {
	k := secretService(t)
	p := testProfile(t, k)
	s, n, err := Open(ChoiceAuto, Options{Dir: t.TempDir()})
	if err != nil || s.Name() != "keyring" || n.Fallback {
		t.Fatalf("Open(auto) with a Secret Service: %v, %+v, %v", s, n, err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	want := Tokens{AccessToken: randomSecret(), Expiry: exp, RefreshToken: randomSecret()}
	if err := SaveTokens(s, p, UserTokens, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTokens(NewKeyring(0), p, UserTokens) // a fresh store, as a new process has
	if err != nil || got.AccessToken != want.AccessToken || got.RefreshToken != want.RefreshToken || !got.Expiry.Equal(exp) {
		t.Fatalf("LoadTokens = %+v, %v", got, err)
	}
	// The largest allowed value round-trips through the real keyring.
	big := strings.Repeat("k", MaxValueBytes-1)
	if err := s.Set(p, ItemDevicePrivateKey, big); err != nil {
		t.Fatal(err)
	}
	if v, err := secretTool(t, "", "lookup", "service", "paragon:"+p, "username", ItemDevicePrivateKey); err != nil || v != big {
		t.Errorf("secret-tool lookup of the %d-byte value: %d bytes, %v", len(big), len(v), err)
	}
	if err := s.Set(p, ItemDevicePrivateKey, big+"k"); !errors.Is(err, ErrTooBig) {
		t.Errorf("%d bytes: %v, want ErrTooBig", len(big)+1, err)
	}
	// The environment still wins over the real keyring.
	s.Set(p, ItemAPIKey, "stored-key")
	l := WithEnv(s, func(k string) string { return map[string]string{EnvAPIKey: "env-key"}[k] })
	if v, src, err := l.Lookup(p, ItemAPIKey); v != "env-key" || src != "environment" || err != nil {
		t.Errorf("layered: %q from %s, %v", v, src, err)
	}
	if v, src, err := l.Lookup(p, ItemUserRefreshToken); v != want.RefreshToken || src != "keyring" || err != nil {
		t.Errorf("layered fall-through: from %s, %v", src, err)
	}
}

// GetItems and Open's prefetch read, in one round, exactly the items
// go-keyring (and secret-tool) store, and a read after the first sees
// changes made by another client.
func TestKeyringSecretServiceGetItems(t *testing.T) {
	k := secretService(t)
	p := testProfile(t, k)
	apiKey, rt := randomSecret(), randomSecret()
	if err := k.Set(p, ItemAPIKey, apiKey); err != nil {
		t.Fatal(err)
	}
	// Stored by an independent client, as an earlier paragon version would have.
	if out, err := secretTool(t, rt, "store", "--label=test", "service", KeyringService(p), "username", ItemUserRefreshToken); err != nil {
		t.Fatalf("secret-tool store: %v %s", err, out)
	}
	hot := []string{ItemAPIKey, ItemUserAccessToken, ItemUserRefreshToken}
	want := map[string]string{ItemAPIKey: apiKey, ItemUserRefreshToken: rt}
	vals, err := NewKeyring(0).GetItems(p, hot)
	if err != nil || !maps.Equal(vals, want) {
		t.Fatalf("GetItems: %d items, %v; want the API key and the refresh token", len(vals), err)
	}

	s, _, err := Open(ChoiceKeyring, Options{Dir: t.TempDir(), Prefetch: &Prefetch{Profile: p, Items: hot}})
	if err != nil {
		t.Fatal(err)
	}
	if vals, err := GetItems(s, p, hot...); err != nil || !maps.Equal(vals, want) {
		t.Fatalf("first GetItems after a prefetching Open: %d items, %v", len(vals), err)
	}
	rt2 := randomSecret()
	if out, err := secretTool(t, rt2, "store", "--label=test", "service", KeyringService(p), "username", ItemUserRefreshToken); err != nil {
		t.Fatalf("secret-tool store: %v %s", err, out)
	}
	if vals, err := GetItems(s, p, ItemUserRefreshToken); err != nil || vals[ItemUserRefreshToken] != rt2 {
		t.Errorf("a later GetItems does not see the refresh token another client stored (err %v)", err)
	}
}

// Reads from many goroutines at once (on Linux each on its own private
// connection; elsewhere sharing the process's session and connection).
func TestKeyringSecretServiceConcurrentGetItems(t *testing.T) {
	k := secretService(t)
	p := testProfile(t, k)
	want := randomSecret()
	if err := k.Set(p, ItemUserRefreshToken, want); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			vals, err := NewKeyring(0).GetItems(p, []string{ItemAPIKey, ItemUserRefreshToken})
			if err == nil && (len(vals) != 1 || vals[ItemUserRefreshToken] != want) {
				err = fmt.Errorf("read %d items, not the stored refresh token", len(vals))
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
