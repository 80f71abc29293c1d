package keystore

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// fakeKeyring is a goroutine-safe in-memory keyringBackend that answers like
// go-keyring: keyring.ErrNotFound for absent items. When block is non-nil,
// every call waits on it (a Secret Service that never answers). When err is
// set, every call fails with it.
type fakeKeyring struct {
	mu    sync.Mutex
	m     map[string]string
	block chan struct{}
	err   error
	calls int
}

func newFakeKeyring() *fakeKeyring { return &fakeKeyring{m: map[string]string{}} }

func (f *fakeKeyring) enter() error {
	f.mu.Lock()
	f.calls++
	block, err := f.block, f.err
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	return err
}

func (f *fakeKeyring) Get(s, u string) (string, error) {
	if err := f.enter(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[s+"\x00"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeKeyring) Set(s, u, p string) error {
	if err := f.enter(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[s+"\x00"+u] = p
	return nil
}

func (f *fakeKeyring) Delete(s, u string) error {
	if err := f.enter(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[s+"\x00"+u]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.m, s+"\x00"+u)
	return nil
}

func TestKeyringServiceAndUser(t *testing.T) {
	f := newFakeKeyring()
	k := &Keyring{timeout: time.Second, backend: f}
	if err := k.Set("work", ItemUserRefreshToken, "rt"); err != nil {
		t.Fatal(err)
	}
	if v := f.m["paragon:work\x00"+ItemUserRefreshToken]; v != "rt" {
		t.Errorf("stored under %v, want service paragon:work, user %s", f.m, ItemUserRefreshToken)
	}
	if k.Name() != "keyring" {
		t.Errorf("Name = %q", k.Name())
	}
}

func TestKeyringTimeout(t *testing.T) {
	f := newFakeKeyring()
	f.block = make(chan struct{})
	defer close(f.block) // let the abandoned goroutines finish
	k := &Keyring{timeout: 50 * time.Millisecond, backend: f}
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := k.Get("p", ItemAPIKey); return err }},
		{"set", func() error { return k.Set("p", ItemAPIKey, "secret-v") }},
		{"delete", func() error { return k.Delete("p", ItemAPIKey) }},
	} {
		start := time.Now()
		err := c.call()
		el := time.Since(start)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("%s: err = %v, want ErrTimeout", c.name, err)
		}
		if el > 5*time.Second {
			t.Errorf("%s took %s with a 50ms timeout", c.name, el)
		}
		if msg := err.Error(); !strings.Contains(msg, "Secret Service") || strings.Contains(msg, "secret-v") {
			t.Errorf("%s: message %q should explain, not leak", c.name, msg)
		}
	}
}

func TestKeyringDefaultTimeout(t *testing.T) {
	if k := NewKeyring(0); k.timeout != DefaultKeyringTimeout || DefaultKeyringTimeout != 3*time.Second {
		t.Errorf("default timeout %s", k.timeout)
	}
	if k := NewKeyring(time.Second); k.timeout != time.Second {
		t.Errorf("timeout %s", k.timeout)
	}
}

func TestKeyringErrorMapping(t *testing.T) {
	f := newFakeKeyring()
	k := &Keyring{timeout: time.Second, backend: f}
	if _, err := k.Get("p", ItemAPIKey); !errors.Is(err, ErrNotFound) || errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("not found: err = %v, want our ErrNotFound only", err)
	}
	f.err = keyring.ErrSetDataTooBig
	if err := k.Set("p", ItemAPIKey, "v"); !errors.Is(err, ErrTooBig) {
		t.Errorf("too big: err = %v", err)
	}
	boom := errors.New("org.freedesktop.DBus.Error.ServiceUnknown")
	f.err = boom
	_, err := k.Get("p", ItemAPIKey)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), ItemAPIKey) {
		t.Errorf("other error: %v", err)
	}
	if err := k.Delete("p", ItemAPIKey); !errors.Is(err, boom) {
		t.Errorf("delete error swallowed: %v", err)
	}
}

func TestOpenChoices(t *testing.T) {
	dir := t.TempDir()
	good := &Keyring{timeout: time.Second, backend: newFakeKeyring()}
	broken := newFakeKeyring()
	broken.err = errors.New("The name org.freedesktop.secrets was not provided by any .service files")
	bad := &Keyring{timeout: time.Second, backend: broken}
	hung := newFakeKeyring()
	hung.block = make(chan struct{})
	defer close(hung.block)
	slow := &Keyring{timeout: 30 * time.Millisecond, backend: hung}

	s, n, err := Open(ChoiceAuto, Options{Dir: dir, keyring: good})
	if err != nil || s != Store(good) || n.String() != "" || n.Fallback {
		t.Errorf("auto with a keyring: %v, %+v, %v", s, n, err)
	}
	for _, kr := range []*Keyring{bad, slow} {
		s, n, err = Open("", Options{Dir: dir, keyring: kr})
		if err != nil {
			t.Fatal(err)
		}
		f, ok := s.(*File)
		if !ok || f.Path() != filepath.Join(dir, FileName) {
			t.Fatalf("auto without a keyring gave %T", s)
		}
		want := "no usable OS keyring ("
		msg := n.String()
		if !n.Fallback || !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "); secrets are stored in "+f.Path()+" (mode 0600)") {
			t.Errorf("notice = %q", msg)
		}
	}
	if !strings.Contains(n.Reason, "timed out") {
		t.Errorf("reason for a hung keyring: %q", n.Reason)
	}
	if _, _, err := Open(ChoiceKeyring, Options{Dir: dir, keyring: bad}); err == nil || !strings.Contains(err.Error(), "not usable") {
		t.Errorf("keyring choice without a keyring: err = %v", err)
	}
	if s, _, err := Open(ChoiceKeyring, Options{Dir: dir, keyring: good}); err != nil || s != Store(good) {
		t.Errorf("keyring choice: %v, %v", s, err)
	}
	s, n, err = Open(ChoiceFile, Options{Dir: dir, keyring: bad})
	if err != nil || s.Name() != "file" || n.Fallback {
		t.Errorf("file choice: %v, %+v, %v", s, n, err)
	}
	if _, _, err := Open("vault", Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "vault") {
		t.Errorf("unknown choice: %v", err)
	}
}

func TestOpenDefaultDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "cfg"))
	s, _, err := Open(ChoiceFile, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "cfg", "paragon", FileName); s.(*File).Path() != want {
		t.Errorf("path %s, want %s", s.(*File).Path(), want)
	}
	if err := s.Set("p", ItemAPIKey, "k"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(home, "cfg", "paragon"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("config dir: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

func TestSessionBusAvailable(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	for _, goos := range []string{"darwin", "windows"} {
		if err := sessionBusAvailable(goos, getenv); err != nil {
			t.Errorf("%s needs no D-Bus: %v", goos, err)
		}
	}
	err := sessionBusAvailable("linux", getenv)
	if err == nil || !strings.Contains(err.Error(), "DBUS_SESSION_BUS_ADDRESS") {
		t.Errorf("no bus: err = %v", err)
	}
	// A runtime dir without a bus socket, then with a plain file named bus.
	rd := t.TempDir()
	env["XDG_RUNTIME_DIR"] = rd
	if sessionBusAvailable("linux", getenv) == nil {
		t.Error("empty runtime dir accepted")
	}
	os.WriteFile(filepath.Join(rd, "bus"), nil, 0o600)
	if sessionBusAvailable("freebsd", getenv) == nil {
		t.Error("a regular file accepted as the bus socket")
	}
	// A real socket at $XDG_RUNTIME_DIR/bus.
	sockDir, err := os.MkdirTemp("", "bus") // short path: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	l, err := net.Listen("unix", filepath.Join(sockDir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	env["XDG_RUNTIME_DIR"] = sockDir
	if err := sessionBusAvailable("linux", getenv); err != nil {
		t.Errorf("socket at $XDG_RUNTIME_DIR/bus: %v", err)
	}
	env["XDG_RUNTIME_DIR"] = ""
	env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/run/user/1000/bus"
	if err := sessionBusAvailable("linux", getenv); err != nil {
		t.Errorf("address set: %v", err)
	}
}

func TestProbeWithoutSessionBusDoesNotCallTheKeyring(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("the session-bus check applies to the Secret Service only")
	}
	s, n, err := Open(ChoiceAuto, Options{Dir: t.TempDir()})
	if err != nil || s.Name() != "file" || !strings.Contains(n.String(), "no D-Bus session bus") {
		t.Errorf("Open: %v, %q, %v", s, n, err)
	}
}

// Open takes items read before it was called (Options.Early) instead of
// probing and reading; an early read that failed leaves the usual probe,
// and one that did not finish in time is the keyring's timeout.
func TestOpenTakesEarlyRead(t *testing.T) {
	dir := t.TempDir()
	fk := newFakeKeyring()
	fk.m[KeyringService("p")+"\x00"+ItemAPIKey] = "stored-key"
	kr := &Keyring{timeout: time.Second, backend: fk}
	pre := &Prefetch{Profile: "p", Items: []string{ItemAPIKey, ItemUserRefreshToken}}
	var asked []string
	early := func(vals map[string]string, ok bool, err error) func(string, []string, time.Duration) (map[string]string, bool, error) {
		return func(profile string, items []string, timeout time.Duration) (map[string]string, bool, error) {
			asked = append(asked, fmt.Sprintf("%s %v %s", profile, items, timeout))
			return vals, ok, err
		}
	}

	s, _, err := Open(ChoiceAuto, Options{Dir: dir, keyring: kr, Prefetch: pre, Early: early(map[string]string{ItemAPIKey: "early-key"}, true, nil)})
	if err != nil || s != Store(kr) {
		t.Fatalf("Open with an early read: %v, %v", s, err)
	}
	if want := fmt.Sprintf("p [%s %s] 1s", ItemAPIKey, ItemUserRefreshToken); len(asked) != 1 || asked[0] != want {
		t.Errorf("Early was asked %q, want once %q", asked, want)
	}
	if fk.calls != 0 {
		t.Errorf("Open called the keyring %d times although the early read had the items", fk.calls)
	}
	if vals, err := GetItems(s, "p", pre.Items...); err != nil || vals[ItemAPIKey] != "early-key" || len(vals) != 1 {
		t.Errorf("first GetItems = %v, %v; want what the early read got", vals, err)
	}
	if vals, err := GetItems(s, "p", ItemAPIKey); err != nil || vals[ItemAPIKey] != "stored-key" {
		t.Errorf("a later GetItems = %v, %v; want the keyring's value", vals, err)
	}

	// A failed early read: Open probes and reads itself.
	fk.calls = 0
	if s, _, err := Open(ChoiceKeyring, Options{Dir: dir, keyring: kr, Prefetch: pre, Early: early(nil, false, nil)}); err != nil || s != Store(kr) {
		t.Fatalf("Open after a failed early read: %v, %v", s, err)
	}
	if fk.calls == 0 {
		t.Error("Open did not probe the keyring after a failed early read")
	}

	// An early read still running after the timeout.
	if _, _, err := Open(ChoiceKeyring, Options{Dir: dir, keyring: kr, Prefetch: pre, Early: early(nil, false, errors.New("late"))}); !errors.Is(err, ErrTimeout) {
		t.Errorf("Open with an early read that timed out: %v, want ErrTimeout", err)
	}
	s, n, err := Open(ChoiceAuto, Options{Dir: dir, keyring: kr, Prefetch: pre, Early: early(nil, false, errors.New("late"))})
	if err != nil || s.Name() != "file" || !n.Fallback || !strings.Contains(n.Reason, "timed out") {
		t.Errorf("auto with an early read that timed out: %v, %+v, %v; want the file with a notice", s, n, err)
	}
}
