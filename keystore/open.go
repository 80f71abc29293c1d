package keystore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Backend choices for Open (the CLI's --keystore / config value).
const (
	ChoiceAuto    = "auto"
	ChoiceKeyring = "keyring"
	ChoiceFile    = "file"
)

// Options configures Open. The zero value is the real thing.
type Options struct {
	// Dir is paragon's config directory; empty means DefaultDir().
	Dir string
	// KeyringTimeout bounds each keyring call and the probe; zero means
	// DefaultKeyringTimeout.
	KeyringTimeout time.Duration

	// Prefetch names the items of one profile the caller reads first (with
	// GetItems) when Open returns the OS keyring. With the Secret Service,
	// Open's probe reads them in the same round of D-Bus calls, and the
	// first GetItems of (some of) those items returns what it read.
	Prefetch *Prefetch

	// Early, when set, may hold Prefetch's items already, read from the OS
	// keyring before Open was called (package cmd/internal/early starts
	// that read while the program initializes). ok means it did, with the
	// probe's check included, and Open uses them instead of probing; err
	// means the read did not finish within the timeout. Otherwise Open
	// probes and reads as usual.
	Early func(profile string, items []string, timeout time.Duration) (vals map[string]string, ok bool, err error)

	// keyring replaces the OS keyring (tests).
	keyring *Keyring
}

// Prefetch is what Options.Prefetch reads.
type Prefetch struct {
	Profile string
	Items   []string
}

// Notice is what Open tells the caller to say out loud. The zero Notice
// means there is nothing to say.
type Notice struct {
	// Fallback is true when "auto" found no usable OS keyring and chose the
	// file store.
	Fallback bool
	// Reason is why the keyring was unusable (an error message, no secrets).
	Reason string
	// Path is the file store's path.
	Path string
}

// String is the warning to print (to stderr), or "" when there is none.
func (n Notice) String() string {
	if !n.Fallback {
		return ""
	}
	return fmt.Sprintf("no usable OS keyring (%s); secrets are stored in %s (mode 0600)", n.Reason, n.Path)
}

// DefaultDir returns paragon's config directory, os.UserConfigDir()/paragon.
func DefaultDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("keystore: no config directory: %w", err)
	}
	return filepath.Join(base, "paragon"), nil
}

// probeProfile is the profile the keyring probe reads; it never holds data.
const probeProfile = "paragon-probe"

// Probe checks that the OS keyring answers: with the Secret Service, that
// its default collection is unlocked (one D-Bus call; a locked one asks the
// prompter and times out without one); elsewhere it reads an item that does
// not exist and counts "not found" as success. It takes at most the store's
// timeout. On Linux and the BSDs it first requires a D-Bus session bus
// (DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus), so that it never
// makes the D-Bus library autolaunch a bus and a keyring daemon that would
// outlive the process.
func (k *Keyring) Probe() error { return k.probe(nil) }

// probe is Probe, reading pre's items in the same round when the backend
// can.
func (k *Keyring) probe(pre *Prefetch) error {
	if a, ok := k.backend.(interface{ available() error }); ok {
		if err := a.available(); err != nil {
			return err
		}
	}
	if p, ok := k.backend.(prober); ok {
		if pre != nil && checkItems(pre.Profile, pre.Items) == nil {
			vals, err := withTimeout(k, "reading", probeProfile, "probe", func() (map[string]string, error) {
				return p.probeAndRead(KeyringService(pre.Profile), pre.Items)
			})
			if err == nil {
				k.mu.Lock()
				k.pre = &prefetched{profile: pre.Profile, items: slices.Clone(pre.Items), vals: vals}
				k.mu.Unlock()
			}
			return err
		}
		_, err := withTimeout(k, "reading", probeProfile, "probe", func() (struct{}, error) {
			return struct{}{}, p.probe()
		})
		return err
	}
	_, err := k.Get(probeProfile, "probe")
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Open returns the Store for choice: "keyring" (the OS keyring, or an error
// if it is unusable), "file" (the JSON file in the config directory), or
// "auto" or "" (the keyring; if it does not answer the probe, the file, with
// a Notice the caller must show). Wrap the result with WithEnv to let
// PARAGON_TOKEN and PARAGON_API_KEY win.
func Open(choice string, opts Options) (Store, Notice, error) {
	kr := opts.keyring
	if kr == nil {
		kr = NewKeyring(opts.KeyringTimeout)
	}
	fileStore := func() (*File, error) {
		dir := opts.Dir
		if dir == "" {
			var err error
			if dir, err = DefaultDir(); err != nil {
				return nil, err
			}
		}
		return NewFile(filepath.Join(dir, FileName)), nil
	}
	probe := func() error {
		if opts.Early != nil && opts.Prefetch != nil {
			vals, ok, err := opts.Early(opts.Prefetch.Profile, opts.Prefetch.Items, kr.timeout)
			if err != nil {
				return kr.timeoutErr("reading", probeProfile, "probe")
			}
			if ok {
				kr.mu.Lock()
				kr.pre = &prefetched{profile: opts.Prefetch.Profile, items: slices.Clone(opts.Prefetch.Items), vals: vals}
				kr.mu.Unlock()
				return nil
			}
		}
		return kr.probe(opts.Prefetch)
	}
	switch choice {
	case ChoiceKeyring:
		if err := probe(); err != nil {
			return nil, Notice{}, fmt.Errorf("keystore: the OS keyring is not usable: %w", err)
		}
		return kr, Notice{}, nil
	case ChoiceFile:
		f, err := fileStore()
		if err != nil {
			return nil, Notice{}, err
		}
		return f, Notice{}, nil
	case ChoiceAuto, "":
		perr := probe()
		if perr == nil {
			return kr, Notice{}, nil
		}
		f, err := fileStore()
		if err != nil {
			return nil, Notice{}, fmt.Errorf("keystore: no usable OS keyring (%v) and %w", perr, err)
		}
		return f, Notice{Fallback: true, Reason: perr.Error(), Path: f.Path()}, nil
	}
	return nil, Notice{}, fmt.Errorf("keystore: unknown keystore %q (want %s, %s or %s)", choice, ChoiceAuto, ChoiceKeyring, ChoiceFile)
}
