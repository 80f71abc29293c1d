package cmdutil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/build"
	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/keystore"
)

// EnvKeystore names the environment variable that sets the default of
// --keystore (auto, keyring or file).
const EnvKeystore = "PARAGON_KEYSTORE"

// GlobalOptions are the root command's persistent flags. Root binds them
// before any command runs; the factory's lazy functions read them.
type GlobalOptions struct {
	// Profile is --profile; empty means PARAGON_PROFILE, then the config's
	// current profile, then "default".
	Profile string
	// Keystore is --keystore: "auto", "keyring", "file" or "" (the
	// profile's recorded store, then PARAGON_KEYSTORE, then auto).
	Keystore string
	// InsecureStorage is --insecure-storage: the explicit opt-in to keeping
	// secrets in a plain file (the same as --keystore file, without the
	// warning).
	InsecureStorage bool
	// Debug is --debug: trace HTTP on stderr with secrets masked.
	Debug bool
	// CACert is --cacert: a PEM file of extra trusted CAs.
	CACert string
	// Insecure is --insecure: skip TLS certificate verification.
	Insecure bool
}

// Factory hands commands their dependencies. Fields that cost something to
// build are functions or methods, called only by the commands that need
// them. Tests replace the function fields (memory keystore, httpmock
// transport, temporary config path).
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Globals holds the root's persistent flags.
	Globals GlobalOptions

	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ConfigPath returns the config file's path; nil means
	// config.DefaultPath.
	ConfigPath func() (string, error)
	// OpenStore opens the secret store for a choice ("auto", "keyring",
	// "file"); nil means keystore.Open with default options.
	OpenStore func(choice string) (keystore.Store, keystore.Notice, error)
	// EarlyRead is keystore.Options.Early for the real OS keyring: what the
	// process read before the command ran (cmd/internal/early); nil means
	// nothing.
	EarlyRead func(profile string, items []string, timeout time.Duration) (map[string]string, bool, error)
	// Lock takes the cross-process refresh lock of a profile; nil means
	// keystore.Lock.
	Lock func(ctx context.Context, profile string) (unlock func() error, err error)
	// Transport is the innermost HTTP transport; nil means a clone of
	// http.DefaultTransport configured by --cacert and --insecure.
	Transport http.RoundTripper
	// Sleep waits between device-token polls; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error

	cfg         *config.Config
	hc          map[string]*http.Client // by CA file
	warnedInsec bool
}

// Env returns the value of an environment variable through Getenv.
func (f *Factory) Env(key string) string {
	if f.Getenv != nil {
		return f.Getenv(key)
	}
	return os.Getenv(key)
}

// Clock returns the current time through Now.
func (f *Factory) Clock() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Config loads the config file once and returns it.
func (f *Factory) Config() (*config.Config, error) {
	if f.cfg != nil {
		return f.cfg, nil
	}
	pathFn := f.ConfigPath
	if pathFn == nil {
		pathFn = config.DefaultPath
	}
	path, err := pathFn()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	f.cfg = cfg
	return cfg, nil
}

// ProfileName returns the profile to use and whether the user named it
// (--profile or PARAGON_PROFILE) rather than getting the current one.
func (f *Factory) ProfileName() (name string, named bool, err error) {
	if f.Globals.Profile != "" {
		name, named = f.Globals.Profile, true
	} else if v := f.Env(config.EnvProfile); v != "" {
		name, named = v, true
	} else {
		cfg, err := f.Config()
		if err != nil {
			return "", false, err
		}
		name = cfg.CurrentProfile()
	}
	if err := config.ValidName(name); err != nil {
		return "", named, FlagErrorf("%v", err)
	}
	return name, named, nil
}

// storeChoice decides which secret store a profile uses.
func (f *Factory) storeChoice(p *config.Profile) (string, error) {
	g := f.Globals
	if g.InsecureStorage && g.Keystore != "" && g.Keystore != keystore.ChoiceFile {
		return "", FlagErrorf("--insecure-storage keeps secrets in a file and cannot be combined with --keystore %s", g.Keystore)
	}
	choice := g.Keystore
	switch {
	case g.InsecureStorage:
		choice = keystore.ChoiceFile
	case choice != "":
	case p != nil && p.Keystore != "":
		choice = p.Keystore
	case f.Env(EnvKeystore) != "":
		choice = f.Env(EnvKeystore)
	default:
		choice = keystore.ChoiceAuto
	}
	switch choice {
	case keystore.ChoiceAuto, keystore.ChoiceKeyring, keystore.ChoiceFile:
		return choice, nil
	}
	if f.OpenStore != nil { // tests may offer more (memory)
		return choice, nil
	}
	return "", FlagErrorf("unknown keystore %q: use auto, keyring or file", choice)
}

// Store opens the secret store of profile p (nil for a new profile), with
// the environment (PARAGON_TOKEN, PARAGON_API_KEY) layered over it.
func (f *Factory) Store(p *config.Profile) (*keystore.Layered, keystore.Notice, error) {
	return f.openStore(p, nil)
}

// openStore is Store; with the OS keyring, pre's items are read in the same
// round as the keyring's probe (see keystore.Options.Prefetch).
func (f *Factory) openStore(p *config.Profile, pre *keystore.Prefetch) (*keystore.Layered, keystore.Notice, error) {
	choice, err := f.storeChoice(p)
	if err != nil {
		return nil, keystore.Notice{}, err
	}
	s, notice, err := f.openChoice(choice, pre)
	if err != nil {
		if errors.Is(err, keystore.ErrTimeout) {
			return nil, notice, fmt.Errorf("the OS keyring did not answer (is it locked?); unlock the keyring, or keep secrets in a plain file with --insecure-storage: %w", keystore.ErrTimeout)
		}
		if choice == keystore.ChoiceKeyring {
			return nil, notice, fmt.Errorf("the OS keyring is not usable (%s); unlock the keyring, or keep secrets in a plain file with --insecure-storage", KeyringCause(err.Error()))
		}
		return nil, notice, err
	}
	return keystore.WithEnv(s, f.Env), notice, nil
}

// OpenStoreChoice opens the backing store for a choice ("auto", "keyring",
// "file"), without the environment over it, through OpenStore.
func (f *Factory) OpenStoreChoice(choice string) (keystore.Store, keystore.Notice, error) {
	return f.openChoice(choice, nil)
}

// openChoice is OpenStoreChoice; with the OS keyring, pre's items are read
// in the same round as the keyring's probe (keystore.Options.Prefetch).
func (f *Factory) openChoice(choice string, pre *keystore.Prefetch) (keystore.Store, keystore.Notice, error) {
	if f.OpenStore != nil {
		return f.OpenStore(choice)
	}
	return keystore.Open(choice, keystore.Options{Prefetch: pre, Early: f.EarlyRead})
}

// keystoreLayers are the prefixes package keystore puts before the reason a
// keyring call failed; they say nothing to a user. (A list, not a regular
// expression compiled when every command starts.)
var keystoreLayers = []string{"keystore: ", "keyring: ", "file: ", "the OS keyring is not usable: ", "reading probe of profile paragon-probe: "}

// KeyringCause is why the OS keyring (or the secrets file) failed, from a
// keystore error message, without the package's own layers ("keystore:
// keyring: reading probe of profile paragon-probe: ") in any order.
func KeyringCause(msg string) string {
	for {
		cut := false
		for _, l := range keystoreLayers {
			if rest, ok := strings.CutPrefix(msg, l); ok {
				msg, cut = rest, true
			}
		}
		if !cut {
			return msg
		}
	}
}

// LockProfile takes the profile's cross-process refresh lock.
func (f *Factory) LockProfile(ctx context.Context, profile string) (func() error, error) {
	if f.Lock != nil {
		return f.Lock(ctx, profile)
	}
	return keystore.Lock(ctx, profile)
}

// HTTPClient returns the plain (unauthorized) HTTP client every command
// uses: TLS per --cacert and --insecure (with a warning), and with --debug
// a client.DebugTransport tracing to stderr with secrets masked. cacert is
// a profile's recorded CA file, used when --cacert is not given. Clients are
// built once per CA file, so that a command visiting several profiles
// (status --all) trusts each profile's own CA.
func (f *Factory) HTTPClient(cacert string) (*http.Client, error) {
	if f.Globals.CACert != "" {
		cacert = f.Globals.CACert
	}
	if hc := f.hc[cacert]; hc != nil {
		return hc, nil
	}
	rt := f.Transport
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cacert != "" || f.Globals.Insecure {
			tc := &tls.Config{MinVersion: tls.VersionTLS12}
			if cacert != "" {
				pem, err := os.ReadFile(cacert)
				if err != nil {
					return nil, FlagErrorf("--cacert: %v", err)
				}
				pool, err := x509.SystemCertPool()
				if err != nil || pool == nil {
					pool = x509.NewCertPool()
				}
				if !pool.AppendCertsFromPEM(pem) {
					return nil, FlagErrorf("--cacert %s: no PEM certificate found in the file", cacert)
				}
				tc.RootCAs = pool
			}
			if f.Globals.Insecure {
				tc.InsecureSkipVerify = true // the user asked for it with --insecure, and is warned below
			}
			tr.TLSClientConfig = tc
		}
		rt = tr
	}
	if f.Globals.Insecure && !f.warnedInsec {
		f.warnedInsec = true
		cs := f.IOStreams.ColorSchemeStderr()
		fmt.Fprintf(f.IOStreams.ErrOut, "%s warning: --insecure: TLS certificates are not verified; anyone on the network path can read your tokens\n", cs.WarningIcon())
	}
	rt = schemeTransport{base: rt}
	if f.Globals.Debug {
		rt = &client.DebugTransport{Base: rt, Log: f.IOStreams.ErrOut}
	}
	if f.hc == nil {
		f.hc = map[string]*http.Client{}
	}
	f.hc[cacert] = &http.Client{Transport: rt, Timeout: 60 * time.Second}
	return f.hc[cacert], nil
}

// UserAgent is sent with every request.
func UserAgent() string { return "paragon-cli/" + build.Version }
