package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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

// manyGetter is a keyringBackend that reads several users of one service
// in one round (the Secret Service); absent users are left out of the map.
type manyGetter interface {
	getMany(service string, users []string) (map[string]string, error)
}

// prober is a keyringBackend with a cheaper check than reading an absent
// item, and one that reads items in the same round.
type prober interface {
	probe() error
	probeAndRead(service string, users []string) (map[string]string, error)
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

	// pre holds what the probe read for Options.Prefetch, until the first
	// GetItems, Set or Delete.
	mu  sync.Mutex
	pre *prefetched
}

type prefetched struct {
	profile string
	items   []string
	vals    map[string]string
}

// takePrefetched returns what the probe read, if it covers items of
// profile, and forgets it either way: it serves the first read only, so
// that a later read (inside the refresh lock) sees what other processes
// stored meanwhile.
func (k *Keyring) takePrefetched(profile string, items []string) (map[string]string, bool) {
	k.mu.Lock()
	pre := k.pre
	k.pre = nil
	k.mu.Unlock()
	if pre == nil || pre.profile != profile {
		return nil, false
	}
	vals := make(map[string]string, len(items))
	for _, it := range items {
		if !slices.Contains(pre.items, it) {
			return nil, false
		}
		if v, ok := pre.vals[it]; ok {
			vals[it] = v
		}
	}
	return vals, true
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

// GetItems implements BatchGetter. With the Secret Service it is one round
// of D-Bus calls on the process's one connection and session (a search per
// item, sent together, and one GetSecrets for all), where reading items one
// by one costs seven calls each; elsewhere it is one Get per item.
func (k *Keyring) GetItems(profile string, items []string) (map[string]string, error) {
	if err := checkItems(profile, items); err != nil {
		return nil, err
	}
	if vals, ok := k.takePrefetched(profile, items); ok {
		return vals, nil
	}
	m, ok := k.backend.(manyGetter)
	if !ok {
		return getEach(k, profile, items)
	}
	return withTimeout(k, "reading", profile, strings.Join(items, ", "), func() (map[string]string, error) {
		return m.getMany(KeyringService(profile), items)
	})
}

// Set implements Store.
func (k *Keyring) Set(profile, item, value string) error {
	if err := checkSet(profile, item, value); err != nil {
		return err
	}
	k.takePrefetched("", nil)
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
	k.takePrefetched("", nil)
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
