package profile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/paragon-cli/paragon/cmd/internal/cmdtest"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

// store is a memory store under a backend's name that can be told to fail
// its n-th Set or Delete, or to read back something else, as an
// interruption or a broken keyring would.
type store struct {
	*keystore.Memory
	name                string
	failSet, failDelete int // 1-based call number; 0 never
	sets, deletes       int
	garble              bool
}

func (s *store) Name() string { return s.name }
func (s *store) Set(p, it, v string) error {
	if s.sets++; s.sets == s.failSet {
		return errors.New("interrupted")
	}
	return s.Memory.Set(p, it, v)
}
func (s *store) Delete(p, it string) error {
	if s.deletes++; s.deletes == s.failDelete {
		return errors.New("interrupted")
	}
	return s.Memory.Delete(p, it)
}
func (s *store) Get(p, it string) (string, error) {
	v, err := s.Memory.Get(p, it)
	if s.garble && err == nil {
		v += "x"
	}
	return v, err
}

// secrets are a profile's items after a fallback to the file.
var secrets = map[string]string{
	keystore.ItemAPIKey: "k", keystore.ItemDeviceID: "dev-1", keystore.ItemDevicePrivateKey: "priv",
	keystore.ItemDeviceAccessToken: `{"access_token":"d-at"}`, keystore.ItemDeviceRefreshToken: "d-rt",
	keystore.ItemUserAccessToken: `{"access_token":"u-at"}`, keystore.ItemUserRefreshToken: "u-rt",
	keystore.ItemUserName: "alice", trust.ItemDeviceCode: `{"device_code":"dc"}`,
}

func migrateEnv(t *testing.T) (*cmdtest.Env, *store, *store) {
	e := cmdtest.New(t, false)
	e.IO.SetNoColor(true)
	file := &store{Memory: keystore.NewMemory(), name: keystore.ChoiceFile}
	ring := &store{Memory: keystore.NewMemory(), name: keystore.ChoiceKeyring}
	e.F.OpenStore = func(choice string) (keystore.Store, keystore.Notice, error) {
		if choice == keystore.ChoiceKeyring {
			return ring, keystore.Notice{}, nil
		}
		return file, keystore.Notice{}, nil
	}
	cfg := e.Config(t)
	for _, n := range []string{"default", "other"} {
		if err := cfg.SetProfile(n, &config.Profile{Server: cmdtest.Server, Keystore: keystore.ChoiceFile, KeystoreFallback: true}); err != nil {
			t.Fatal(err)
		}
		for it, v := range secrets {
			file.Memory.Set(n, it, v+"-"+n)
		}
	}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	ring.Memory.Set("default", keystore.ItemUserName, "stale") // left by an earlier keyring
	e.F.Globals.Keystore = keystore.ChoiceKeyring
	return e, file, ring
}

// holdsAll checks that the store the profile now uses has every secret.
func holdsAll(t *testing.T, e *cmdtest.Env, file, ring *store, when string) string {
	t.Helper()
	p, _ := e.Config(t).Profile("default")
	in := map[string]*store{keystore.ChoiceFile: file, keystore.ChoiceKeyring: ring}[p.Keystore]
	for it, v := range secrets {
		if got, err := in.Memory.Get("default", it); got != v+"-default" {
			t.Errorf("%s: the %s store the profile uses has %s = %q (%v)", when, p.Keystore, it, got, err)
		}
	}
	return p.Keystore
}

func TestMigrate(t *testing.T) {
	e, file, ring := migrateEnv(t)
	if err := execute(NewCmdMigrate(e.F, nil)); err != nil {
		t.Fatal(err)
	}
	if holdsAll(t, e, file, ring, "after migrate") != keystore.ChoiceKeyring {
		t.Fatal("the profile does not use the keyring")
	}
	if p, _ := e.Config(t).Profile("default"); p.KeystoreFallback {
		t.Error("still marked as a fallback")
	}
	for it := range secrets {
		if v, err := file.Memory.Get("default", it); err == nil {
			t.Errorf("%s left in the file: %q", it, v)
		}
		if v, _ := file.Memory.Get("other", it); v != secrets[it]+"-other" {
			t.Errorf("another profile's %s was touched", it)
		}
	}
	if want := fmt.Sprintf("✓ Moved %d secrets of profile default from file to keyring.\n", len(secrets)); e.ErrOut.String() != want {
		t.Errorf("stderr %q, want %q", e.ErrOut, want)
	}
	e.ErrOut.Reset()
	if err := execute(NewCmdMigrate(e.F, nil)); err != nil || !strings.Contains(e.ErrOut.String(), "already in the keyring store") {
		t.Errorf("second migrate: %v %q", err, e.ErrOut)
	}
}

// TestMigrateInterrupted stops the move at every write and every delete:
// the store the profile uses always holds every secret.
func TestMigrateInterrupted(t *testing.T) {
	for n := 1; n <= len(secrets); n++ {
		e, file, ring := migrateEnv(t)
		ring.failSet = n
		err := execute(NewCmdMigrate(e.F, nil))
		if err == nil || !strings.Contains(err.Error(), "nothing was moved: the secrets stay in file") {
			t.Errorf("keyring write %d fails: err %v", n, err)
		}
		if holdsAll(t, e, file, ring, fmt.Sprintf("keyring write %d fails", n)) != keystore.ChoiceFile {
			t.Errorf("keyring write %d fails: the profile switched", n)
		}
		for it := range secrets {
			if v, err := ring.Memory.Get("default", it); err == nil && v != "stale" {
				t.Errorf("keyring write %d fails: copy of %s left in the keyring", n, it)
			}
		}
	}
	for n := 1; n <= len(secrets); n++ {
		e, file, ring := migrateEnv(t)
		file.failDelete = n
		err := execute(NewCmdMigrate(e.F, nil))
		if err == nil || !strings.Contains(err.Error(), "now uses the keyring store, which holds all its secrets") {
			t.Errorf("file delete %d fails: err %v", n, err)
		}
		holdsAll(t, e, file, ring, fmt.Sprintf("file delete %d fails", n))
		// Running it again finishes the job.
		file.failDelete = 0
		e.F.Globals.Keystore = keystore.ChoiceKeyring
		if err := execute(NewCmdMigrate(e.F, nil)); err != nil {
			t.Errorf("file delete %d failed, then: %v", n, err)
		}
	}
	e, file, ring := migrateEnv(t)
	ring.garble = true
	if err := execute(NewCmdMigrate(e.F, nil)); err == nil || !strings.Contains(err.Error(), "reading api-key back from keyring gave something else") {
		t.Errorf("garbled read-back: %v", err)
	}
	ring.garble = false
	holdsAll(t, e, file, ring, "garbled read-back")
}

func TestMigrateMistakes(t *testing.T) {
	e, _, _ := migrateEnv(t)
	e.F.Globals.Keystore = ""
	if err := execute(NewCmdMigrate(e.F, nil)); cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--keystore keyring") {
		t.Errorf("no target: %v", err)
	}
	e.F.Globals.Keystore = keystore.ChoiceAuto
	if err := execute(NewCmdMigrate(e.F, nil)); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("--keystore auto: %v", err)
	}
	e.F.Globals.Keystore = keystore.ChoiceKeyring
	if err := execute(NewCmdMigrate(e.F, nil), "nope"); cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), `unknown profile "nope"; profiles: default, other`) {
		t.Errorf("unknown profile: %v", err)
	}
	e.F.OpenStore = func(choice string) (keystore.Store, keystore.Notice, error) {
		if choice == keystore.ChoiceKeyring {
			return nil, keystore.Notice{}, fmt.Errorf("keystore: the OS keyring is not usable: keystore: keyring: reading probe of profile paragon-probe: %w", keystore.ErrTimeout)
		}
		return keystore.NewMemory(), keystore.Notice{}, nil
	}
	err := execute(NewCmdMigrate(e.F, nil))
	if err == nil || err.Error() != "the OS keyring is not usable (OS keyring timed out): unlock or start one, then run this again; nothing was moved" {
		t.Errorf("no keyring: %v", err)
	}
}
