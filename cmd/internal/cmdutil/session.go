package cmdutil

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/tokenstore"
	"github.com/paragon-cli/paragon/keystore"
)

// ProfileOverrides are the settings `device register` and `login` accept to
// create or update a profile (--server, --oauth-url, --api-key).
type ProfileOverrides struct {
	Server   string
	OAuthURL string
	APIKey   string
}

// Session is one profile opened for a command: its settings, its secret
// store and a protocol client for its server. Build it with
// Factory.OpenSession.
type Session struct {
	// Name is the profile's name.
	Name string
	// Named is true when the user chose the profile (--profile or
	// PARAGON_PROFILE).
	Named bool
	// Profile holds the settings (a copy; Save writes it back).
	Profile config.Profile
	// IsNew is true when the profile did not exist before this command.
	IsNew bool
	// MovedFrom is the profile's stored server when --server or --oauth-url
	// point it at another server: its device and login there mean nothing
	// to the new one (and must not be sent to it).
	MovedFrom string
	// Store is the profile's secret store with the environment over it.
	Store *keystore.Layered
	// Notice is what opening the store had to say (a fallback to a file).
	Notice keystore.Notice
	// Client speaks the protocol to the profile's server.
	Client *client.Client

	f         *Factory
	apiKey    string
	apiKeyNew bool
	flagURLs  bool // --server or --oauth-url given to this command
	// stored is what OpenSession read of the backing store in one
	// operation (hotItems), until the session writes to the store.
	stored map[string]string
}

// hotItems are the items an API call needs, read together when a session
// opens: one keyring operation instead of one per item.
var hotItems = []string{keystore.ItemAPIKey, keystore.ItemUserAccessToken, keystore.ItemUserRefreshToken}

// OpenSession opens the selected profile. With overrides (device register,
// login) a missing profile is created and the given settings replace the
// stored ones; nothing is saved until Save. Without, the profile must exist
// and have an API key.
func (f *Factory) OpenSession(ctx context.Context, ov *ProfileOverrides) (*Session, error) {
	name, named, err := f.ProfileName()
	if err != nil {
		return nil, err
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	s := &Session{Name: name, Named: named, f: f}
	if p, ok := cfg.Profile(name); ok {
		s.Profile = *p
	} else if ov == nil {
		return nil, f.unknownProfile(cfg, name, named)
	} else {
		s.IsNew = true
	}
	stored := s.Profile
	if ov != nil {
		for _, o := range []struct {
			flag, val string
			dst       *string
		}{{"--server", ov.Server, &s.Profile.Server}, {"--oauth-url", ov.OAuthURL, &s.Profile.OAuthURL}} {
			if o.val == "" {
				continue
			}
			s.flagURLs = true
			u, note, err := ServerURL(o.flag, o.val)
			if err != nil {
				return nil, err
			}
			if note != "" {
				fmt.Fprintln(f.IOStreams.ErrOut, note)
			}
			*o.dst = u
		}
	}
	if !s.IsNew && (!sameServer(stored.Server, s.Profile.Server) || !sameServer(stored.OAuthBase(), s.Profile.OAuthBase())) {
		s.MovedFrom = stored.Server
		if stored.Server == s.Profile.Server {
			s.MovedFrom = stored.OAuthBase()
		}
	}
	if s.Profile.Server == "" {
		return nil, FlagErrorf("profile %q has no server: pass --server URL (for example --server http://127.0.0.1:7300)", name)
	}
	var existing *config.Profile
	if !s.IsNew {
		existing = &s.Profile
	}
	s.Store, s.Notice, err = f.openStore(existing, &keystore.Prefetch{Profile: name, Items: hotItems})
	if err != nil {
		return nil, err
	}
	if s.stored, err = keystore.GetItems(s.Store.Store, name, hotItems...); err != nil {
		return nil, s.Explain(err)
	}
	if ov != nil && ov.APIKey != "" {
		s.apiKey, s.apiKeyNew = ov.APIKey, true
	} else {
		s.apiKey, err = s.Store.Env.Get(name, keystore.ItemAPIKey)
		if errors.Is(err, keystore.ErrNotFound) {
			var ok bool
			if s.apiKey, ok = s.stored[keystore.ItemAPIKey]; ok {
				err = nil
			}
		}
		switch {
		case errors.Is(err, keystore.ErrNotFound) && !s.IsNew && s.Profile.Keystore != "" && s.Profile.Keystore != s.Store.Name():
			// --keystore names another store than the one holding the
			// profile's secrets.
			return nil, FlagErrorf("the secrets of profile %q are in the %s store, not the %s one: move them with %s (or drop --keystore)",
				name, s.Profile.Keystore, s.Store.Name(), s.Cmd("profile migrate --keystore "+s.Store.Name()))
		case errors.Is(err, keystore.ErrNotFound) && ov != nil && f.IOStreams.IsStdinTTY():
			if s.apiKey, err = f.promptAPIKey(ctx, s.Profile.Server); err != nil {
				return nil, err
			}
			s.apiKeyNew = true
		case errors.Is(err, keystore.ErrNotFound) && ov != nil:
			return nil, FlagErrorf("no API key for profile %q: pass --api-key-stdin (or --api-key KEY, or set %s)", name, keystore.EnvAPIKey)
		case errors.Is(err, keystore.ErrNotFound):
			return nil, &AuthError{Err: fmt.Errorf("no API key stored for profile %q", name), Hint: s.Cmd("device register --api-key-stdin")}
		case err != nil:
			return nil, s.Explain(err)
		}
	}
	hc, err := f.HTTPClient(s.Profile.CACert)
	if err != nil {
		return nil, err
	}
	s.Client, err = client.New(client.Config{
		BaseURL:    s.Profile.Server,
		OAuthURL:   s.Profile.OAuthURL,
		APIKey:     s.apiKey,
		HTTPClient: hc,
		Now:        f.Now,
		Sleep:      f.Sleep,
		UserAgent:  UserAgent(),
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sameServer reports whether two root URLs name the same server: the same
// host, port and path; a change of scheme alone (a server that now speaks
// HTTPS) keeps the device and the login.
func sameServer(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return strings.EqualFold(ua.Host, ub.Host) && ua.Path == ub.Path
}

// OpenProfileSession opens the profile name as if --profile name had been
// given (paragon status --all).
func (f *Factory) OpenProfileSession(ctx context.Context, name string) (*Session, error) {
	saved := f.Globals.Profile
	f.Globals.Profile = name
	defer func() { f.Globals.Profile = saved }()
	return f.OpenSession(ctx, nil)
}

// promptAPIKey asks for a new profile's API key on the terminal, without
// echo (it is a secret), as --api-key-stdin does on a terminal.
func (f *Factory) promptAPIKey(ctx context.Context, server string) (string, error) {
	k, err := f.IOStreams.PromptPassword(ctx, fmt.Sprintf("API key for %s: ", server))
	if err != nil {
		return "", PromptError("the API key", err)
	}
	if k = strings.TrimSpace(k); k == "" {
		return "", FlagErrorf("the API key is empty: type it, or pass --api-key-stdin")
	}
	return k, nil
}

// UnknownProfile is the usage error for a profile name that is not among
// names, listing them the same way everywhere.
func UnknownProfile(names []string, name string) error {
	if len(names) == 0 {
		return FlagErrorf("unknown profile %q: there are no profiles yet (create one with paragon device register --server <URL> --api-key-stdin)", name)
	}
	return FlagErrorf("unknown profile %q; profiles: %s (see paragon profile list)", name, strings.Join(names, ", "))
}

// unknownProfile explains a profile that is not in the config.
func (f *Factory) unknownProfile(cfg *config.Config, name string, named bool) error {
	if names := cfg.Names(); named && len(names) > 0 {
		return UnknownProfile(names, name)
	}
	create := "paragon device register --server <URL> --api-key-stdin"
	if name != config.DefaultProfile {
		create += " --profile " + name
	}
	// No "run:" line: only the user knows the server's URL.
	return &AuthError{Err: fmt.Errorf("profile %q is not set up: create it with %s", name, create)}
}

// Cmd returns "paragon <sub>" for the hints in error messages, as a
// command that works when run as printed: with --profile when this profile
// is not the one paragon would pick anyway, and, for a profile this command
// was about to create (nothing saved yet), the settings it was given:
// --server, --oauth-url, --cacert, --insecure, --insecure-storage or
// --keystore, and --api-key-stdin when no API key is stored.
func (s *Session) Cmd(sub string) string {
	words, flags, _ := strings.Cut(sub, " -")
	if flags != "" {
		flags = " -" + flags
	}
	c := "paragon " + words
	has := func(flag string) bool { return strings.Contains(flags+" ", " "+flag+" ") }
	add := func(flag, v string) {
		if !has(flag) {
			c += " " + flag
			if v != "" {
				c += " " + shellQuote(v)
			}
		}
	}
	if (s.IsNew || s.MovedFrom != "") && (strings.HasPrefix(sub, "device register") || strings.HasPrefix(sub, "login")) {
		add("--server", s.Profile.Server)
		if s.Profile.OAuthURL != "" {
			add("--oauth-url", s.Profile.OAuthURL)
		}
		if ca := s.f.Globals.CACert; ca != "" {
			add("--cacert", ca)
		}
		if s.f.Globals.Insecure {
			add("--insecure", "")
		}
		if s.f.Globals.InsecureStorage {
			add("--insecure-storage", "")
		} else if ks := s.f.Globals.Keystore; ks != "" {
			add("--keystore", ks)
		}
		if s.apiKeyNew && s.f.Env(keystore.EnvAPIKey) == "" {
			add("--api-key-stdin", "")
		}
	}
	c += flags
	if s.Named {
		c += " --profile " + s.Name
	}
	return c
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+=,") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// Save stores a new API key, records which store holds the secrets, and
// writes the profile to the config file. Call it once the command has
// something worth keeping.
func (s *Session) Save() error {
	if s.apiKeyNew {
		s.stored = nil
		if err := s.Store.Set(s.Name, keystore.ItemAPIKey, s.apiKey); err != nil {
			return s.Explain(err)
		}
		s.apiKeyNew = false
	}
	switch n := s.Store.Name(); n {
	case keystore.ChoiceKeyring, keystore.ChoiceFile:
		s.Profile.Keystore = n
	}
	if ca := s.f.Globals.CACert; ca != "" {
		if abs, err := filepath.Abs(ca); err == nil {
			ca = abs
		}
		s.Profile.CACert = ca // later commands trust the same CA without the flag
	}
	if s.Notice.Fallback {
		s.Profile.KeystoreFallback = true
	} else if s.f.Globals.InsecureStorage || s.f.Globals.Keystore != "" {
		s.Profile.KeystoreFallback = false // chosen explicitly now
	}
	cfg, err := s.f.Config()
	if err != nil {
		return err
	}
	p := s.Profile
	if err := cfg.SetProfile(s.Name, &p); err != nil {
		return err
	}
	if err := cfg.Save(); err != nil {
		return err
	}
	s.IsNew = false
	return nil
}

// WarnStorage prints, loudly, where secrets are going when that is a plain
// file: after an automatic fallback, or with --keystore file without the
// explicit --insecure-storage, and again every time for a profile whose
// secrets went to the file by fallback until that is accepted with
// --insecure-storage.
func (s *Session) WarnStorage() {
	ios := s.f.IOStreams
	cs := ios.ColorSchemeStderr()
	switch {
	case s.Notice.Fallback:
		fmt.Fprintf(ios.ErrOut, "%s %s no usable OS keyring (%s); secrets are stored in %s (mode 0600)\n  Anyone who can read that file can use your account. Unlock or install an OS keyring (Secret Service, Keychain) and log in again, or pass --insecure-storage to accept this.\n",
			cs.WarningIcon(), cs.Bold("WARNING:"), KeyringCause(s.Notice.Reason), s.Notice.Path)
	case s.Profile.KeystoreFallback && s.Store.Name() == keystore.ChoiceFile && !s.f.Globals.InsecureStorage && s.f.Globals.Keystore == "":
		fmt.Fprintf(ios.ErrOut, "%s %s secrets are stored in a plain file (%s) because no OS keyring was usable; once one works, move them there with: %s (or pass --insecure-storage to accept the file)\n",
			cs.WarningIcon(), cs.Bold("WARNING:"), s.StorePath(), s.Cmd("profile migrate --keystore keyring"))
	case s.f.Globals.Keystore == keystore.ChoiceFile && !s.f.Globals.InsecureStorage:
		fmt.Fprintf(ios.ErrOut, "%s %s secrets are stored in a plain file (%s), not the OS keyring; pass --insecure-storage to confirm that is intended\n",
			cs.WarningIcon(), cs.Bold("WARNING:"), s.StorePath())
	}
}

// StorePath describes where the secrets are: the file's path, or the
// keyring's service name.
func (s *Session) StorePath() string { return StoreLocation(s.Store.Store, s.Name) }

// StoreLocation describes where store st keeps profile's secrets: the file's
// path, or the keyring's service name.
func StoreLocation(st keystore.Store, profile string) string {
	switch st := st.(type) {
	case *keystore.File:
		return st.Path()
	case *keystore.Keyring:
		return "OS keyring, service " + keystore.KeyringService(profile)
	}
	return st.Name()
}

// APIKeySource says where the API key came from ("environment" or the
// store's name).
func (s *Session) APIKeySource() string {
	_, src, err := s.Store.Lookup(s.Name, keystore.ItemAPIKey)
	if err != nil {
		return "command line"
	}
	return src
}

// EnvToken returns PARAGON_TOKEN, which wins over stored user tokens.
func (s *Session) EnvToken() string { return s.f.Env(keystore.EnvToken) }

// tokenStore keeps tokens of kind in the profile's backing store (never the
// environment) under the factory's refresh lock: the same
// cmd/internal/tokenstore adapter whose multi-process test proves that
// parallel paragon processes refresh once and every rotated refresh token
// is saved before its access token is used.
func (s *Session) tokenStore(kind keystore.TokenKind) tokenstore.Store {
	return tokenstore.Store{Keys: s.Store.Store, Profile: s.Name, Kind: kind, LockFunc: s.f.LockProfile}
}

// SourceConfig is the configuration of a refreshing token source of kind
// starting from initial: its tokens kept in the profile's store under the
// profile's refresh lock.
func (s *Session) SourceConfig(kind keystore.TokenKind, initial *client.Token) client.SourceConfig {
	return client.SourceConfig{Token: initial, Store: s.tokenStore(kind)}
}

// loadTokens reads stored tokens of kind from the backing store (never the
// environment), or from what OpenSession read if it has them; nil when none
// are stored.
func (s *Session) loadTokens(kind keystore.TokenKind) (*client.Token, error) {
	var t *client.Token
	var err error
	if s.has(kind.TokenItems()...) {
		t, err = tokenstore.FromItems(s.stored, s.Name, kind)
	} else {
		t, err = s.tokenStore(kind).Load()
	}
	if err != nil {
		return nil, s.Explain(err)
	}
	if t == nil || (t.AccessToken == "" && t.RefreshToken == "") {
		return nil, nil
	}
	return t, nil
}

// StoredUserToken returns the stored user token (nil if not logged in).
func (s *Session) StoredUserToken() (*client.Token, error) { return s.loadTokens(keystore.UserTokens) }

// StoredDeviceToken returns the stored device token (nil if none).
func (s *Session) StoredDeviceToken() (*client.Token, error) {
	return s.loadTokens(keystore.DeviceTokens)
}

// UserSource returns the token source for API calls: PARAGON_TOKEN as is
// when set, else the stored user token, refreshed as needed under the
// profile's lock. It fails with an AuthError when nobody is logged in.
func (s *Session) UserSource() (client.TokenSource, error) {
	if v := s.EnvToken(); v != "" {
		return client.StaticTokenSource(&client.Token{AccessToken: v}), nil
	}
	tok, err := s.StoredUserToken()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, &AuthError{Err: fmt.Errorf("not logged in (profile %q)", s.Name), Hint: s.Cmd("login")}
	}
	return s.Client.UserTokenSource(s.SourceConfig(keystore.UserTokens, tok)), nil
}

// DeviceID returns the profile's device id, or "" when no device is
// registered.
func (s *Session) DeviceID() (string, error) {
	id, err := s.Store.Store.Get(s.Name, keystore.ItemDeviceID)
	if errors.Is(err, keystore.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", s.Explain(err)
	}
	return id, nil
}

// DeviceKey returns the device's private key (nil when none is stored).
func (s *Session) DeviceKey() (ed25519.PrivateKey, error) {
	v, err := s.Store.Store.Get(s.Name, keystore.ItemDevicePrivateKey)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.Explain(err)
	}
	k, err := client.UnmarshalPrivateKey(v)
	if err != nil {
		return nil, fmt.Errorf("the stored device key of profile %q is unreadable: %v; run %s", s.Name, err, s.Cmd("device forget"))
	}
	return k, nil
}

// IOStreams returns the streams of the command that opened the session.
func (s *Session) IOStreams() *iostreams.IOStreams { return s.f.IOStreams }

// Sleep waits d, or until ctx ends, through the factory's Sleep (tests
// replace it).
func (s *Session) Sleep(ctx context.Context, d time.Duration) error {
	if s.f.Sleep != nil {
		return s.f.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// has reports whether OpenSession read items (present or absent) and the
// session has not written to the store since.
func (s *Session) has(items ...string) bool {
	if s.stored == nil {
		return false
	}
	for _, it := range items {
		if !slices.Contains(hotItems, it) {
			return false
		}
	}
	return true
}

// SaveTokens stores a token pair of kind (after login or registration).
func (s *Session) SaveTokens(kind keystore.TokenKind, t *client.Token) error {
	s.stored = nil
	if err := s.tokenStore(kind).Save(t); err != nil {
		return s.Explain(err)
	}
	return nil
}

// SaveDevice stores the device's id and key through the device token
// store, the client.DeviceStore of the profile.
func (s *Session) SaveDevice(id string, key ed25519.PrivateKey) error {
	s.stored = nil
	if err := s.tokenStore(keystore.DeviceTokens).SaveDevice(id, key); err != nil {
		return s.Explain(err)
	}
	return nil
}

// DeleteItems removes items of this profile from the backing store.
func (s *Session) DeleteItems(items ...string) error {
	s.stored = nil
	for _, it := range items {
		if err := s.Store.Store.Delete(s.Name, it); err != nil {
			return s.Explain(err)
		}
	}
	return nil
}

// DescribeExpiry renders a token expiry for people: "valid until <time>
// (in 42m)", "expired <time> (5m ago)" or "no expiry known".
func DescribeExpiry(exp, now time.Time) string {
	if exp.IsZero() {
		return "no expiry known"
	}
	at := exp.Local().Format("2006-01-02 15:04:05 MST")
	if now.Before(exp) {
		return fmt.Sprintf("valid until %s (in %s)", at, exp.Sub(now).Round(time.Second))
	}
	return fmt.Sprintf("expired %s (%s ago)", at, now.Sub(exp).Round(time.Second))
}

// DeviceJSON is a profile's device in `paragon status --json`, `device
// status --json` and `device register --json`: one shape everywhere.
type DeviceJSON struct {
	ID     string `json:"id,omitempty"`
	Status string `json:"status"` // none, pending, trusted
	// ApproveAt is the admin page of a reference server (pending).
	ApproveAt string `json:"approve_at,omitempty"`
	// NextCheck is when paragon may ask the server again (pending).
	NextCheck    *time.Time `json:"next_check,omitempty"`
	TokenExpiry  *time.Time `json:"token_expiry,omitempty"`
	RefreshToken bool       `json:"refresh_token_stored"`
	AccessToken  string     `json:"access_token,omitempty"`
}
