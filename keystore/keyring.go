package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// DefaultKeyringTimeout bounds every OS keyring call unless Options or
// NewKeyring say otherwise.
const DefaultKeyringTimeout = 3 * time.Second

// KeyringService returns the keyring service name of a profile:
// "paragon:<profile>". The item name is the keyring's user attribute, so
// `secret-tool search service paragon:<profile>` lists a profile's secrets.
func KeyringService(profile string) string { return "paragon:" + profile }

// keyringBackend is the part of go-keyring we call; tests swap in fakes.
type keyringBackend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// goKeyring calls the go-keyring package functions (the OS keyring, or its
// mock after keyring.MockInit).
type goKeyring struct{}

func (goKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (goKeyring) Set(s, u, p string) error        { return keyring.Set(s, u, p) }
func (goKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// available reports whether the OS keyring can be reached without side
// effects.
func (goKeyring) available() error { return sessionBusAvailable(runtime.GOOS, os.Getenv) }

// sessionBusAvailable checks, where the keyring is the Secret Service (not
// macOS or Windows), that a D-Bus session bus is known: godbus would
// otherwise autolaunch one (with dbus-launch) and leave it running.
func sessionBusAvailable(goos string, getenv func(string) string) error {
	if goos == "darwin" || goos == "windows" {
		return nil
	}
	if getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return nil
	}
	if rd := getenv("XDG_RUNTIME_DIR"); rd != "" {
		if fi, err := os.Stat(filepath.Join(rd, "bus")); err == nil && fi.Mode().Type() == fs.ModeSocket {
			return nil
		}
	}
	return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset), so no Secret Service")
}

// Keyring is a Store in the OS keyring (Secret Service on Linux, Keychain on
// macOS, Credential Manager on Windows) through github.com/zalando/go-keyring.
// Every call is bounded by a timeout so that a locked or absent keyring
// cannot hang the caller; a call that times out keeps running in the
// background and its result is dropped.
type Keyring struct {
	timeout time.Duration
	backend keyringBackend
}

// NewKeyring returns the OS keyring store. timeout <= 0 means
// DefaultKeyringTimeout.
func NewKeyring(timeout time.Duration) *Keyring {
	if timeout <= 0 {
		timeout = DefaultKeyringTimeout
	}
	return &Keyring{timeout: timeout, backend: goKeyring{}}
}

// Name returns "keyring".
func (k *Keyring) Name() string { return "keyring" }

// Get implements Store.
func (k *Keyring) Get(profile, item string) (string, error) {
	if err := checkKey(profile, item); err != nil {
		return "", err
	}
	return withTimeout(k, "reading", profile, item, func() (string, error) {
		return k.backend.Get(KeyringService(profile), item)
	})
}

// Set implements Store.
func (k *Keyring) Set(profile, item, value string) error {
	if err := checkSet(profile, item, value); err != nil {
		return err
	}
	_, err := withTimeout(k, "storing", profile, item, func() (struct{}, error) {
		return struct{}{}, k.backend.Set(KeyringService(profile), item, value)
	})
	return err
}

// Delete implements Store. Deleting an absent item is not an error.
func (k *Keyring) Delete(profile, item string) error {
	if err := checkKey(profile, item); err != nil {
		return err
	}
	_, err := withTimeout(k, "deleting", profile, item, func() (struct{}, error) {
		return struct{}{}, k.backend.Delete(KeyringService(profile), item)
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// withTimeout calls f on its own goroutine and waits at most k's timeout
// for it. A call that times out keeps running and its late result is
// dropped (the channel is buffered so that the goroutine never blocks).
func withTimeout[T any](k *Keyring, verb, profile, item string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	var zero T
	select {
	case r := <-ch:
		if r.err != nil {
			return zero, k.mapErr(verb, profile, item, r.err)
		}
		return r.v, nil
	case <-time.After(k.timeout):
		return zero, k.timeoutErr(verb, profile, item)
	}
}

// mapErr turns go-keyring's errors into ours.
func (k *Keyring) mapErr(verb, profile, item string, err error) error {
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return notFound(k.Name(), profile, item)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("keystore: keyring: %s %s of profile %s: %w (the OS keyring refused its size)", verb, item, profile, ErrTooBig)
	}
	return fmt.Errorf("keystore: keyring: %s %s of profile %s: %w", verb, item, profile, err)
}

// timeoutErr is the error of a call that did not answer in time.
func (k *Keyring) timeoutErr(verb, profile, item string) error {
	return fmt.Errorf("keystore: keyring: %s %s of profile %s: %w after %s (is the Secret Service running and unlocked?)",
		verb, item, profile, ErrTimeout, k.timeout)
}
