// Package cmdtest builds factories for command tests: buffers for the I/O
// streams, a config file in a temporary directory, an in-memory keystore, an
// in-process lock, a fixed clock and an httpmock transport that fails the
// test when a registered stub was never called.
package cmdtest

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/client"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/keystore"
)

// Server is the base URL the test profiles point at.
const Server = "https://paragon.test"

// APIKey is the API key stored in the test profiles.
const APIKey = "test-api-key"

// Env is a test's world: the factory and everything behind it.
type Env struct {
	F      *cmdutil.Factory
	IO     *iostreams.IOStreams
	In     *bytes.Buffer
	Out    *bytes.Buffer
	ErrOut *bytes.Buffer
	Store  *keystore.Memory
	HTTP   *httpmock.MockTransport
	// Vars is the environment Getenv reads.
	Vars map[string]string
	// Now is the clock reading; tests may move it.
	Now time.Time
	// ConfigPath is the config file.
	ConfigPath string
}

// New returns a test Env with an empty config and store. Every stub
// registered on HTTP must be called by the end of the test.
func New(t *testing.T, tty bool) *Env {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	ios.SetTTY(tty)
	e := &Env{IO: ios, In: in, Out: out, ErrOut: errOut, Store: keystore.NewMemory(),
		HTTP: httpmock.NewMockTransport(), Vars: map[string]string{},
		Now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), ConfigPath: filepath.Join(t.TempDir(), "paragon", "config.yml")}
	var mu sync.Mutex
	e.F = &cmdutil.Factory{
		IOStreams:  ios,
		Getenv:     func(k string) string { return e.Vars[k] },
		Now:        func() time.Time { return e.Now },
		ConfigPath: func() (string, error) { return e.ConfigPath, nil },
		OpenStore: func(choice string) (keystore.Store, keystore.Notice, error) {
			return e.Store, keystore.Notice{}, nil
		},
		Lock: func(ctx context.Context, profile string) (func() error, error) {
			mu.Lock()
			return func() error { mu.Unlock(); return nil }, nil
		},
		Transport: e.HTTP,
		Sleep:     func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	}
	t.Cleanup(func() {
		for k, n := range e.HTTP.GetCallCountInfo() {
			if n == 0 && k != "NO_RESPONDER" {
				t.Errorf("HTTP stub %s was never called", k)
			}
		}
	})
	return e
}

// AddProfile writes a profile pointing at Server with APIKey stored.
func (e *Env) AddProfile(t *testing.T, name string) {
	t.Helper()
	cfg, err := config.Load(e.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetProfile(name, &config.Profile{Server: Server}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.Set(name, keystore.ItemAPIKey, APIKey); err != nil {
		t.Fatal(err)
	}
}

// SetUserTokens stores a user token pair expiring at exp.
func (e *Env) SetUserTokens(t *testing.T, profile, access, refresh string, exp time.Time) {
	t.Helper()
	if err := keystore.SaveTokens(e.Store, profile, keystore.UserTokens, keystore.Tokens{AccessToken: access, RefreshToken: refresh, Expiry: exp}); err != nil {
		t.Fatal(err)
	}
}

// Config reads the config file back.
func (e *Env) Config(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(e.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Get reads a stored item ("" when absent).
func (e *Env) Get(profile, item string) string {
	v, _ := e.Store.Get(profile, item)
	return v
}

// DeviceID is the id of the device SetDevice stores.
const DeviceID = "11111111-2222-4333-8444-555555555555"

// SetDevice stores a trusted device (id, key, device tokens valid for an
// hour) for profile.
func (e *Env) SetDevice(t *testing.T, profile string) {
	t.Helper()
	key, err := client.GenerateDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	e.Store.Set(profile, keystore.ItemDeviceID, DeviceID)
	e.Store.Set(profile, keystore.ItemDevicePrivateKey, client.MarshalPrivateKey(key))
	if err := keystore.SaveTokens(e.Store, profile, keystore.DeviceTokens, keystore.Tokens{AccessToken: "device-at", RefreshToken: "device-rt", Expiry: e.Now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// Execute runs a command built by a NewCmd function with args, as root
// would (flag errors become cmdutil.FlagError), under ctx.
func Execute(ctx context.Context, cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	_, err := cmd.ExecuteContextC(ctx)
	return err
}

// DeleteDeviceTokens removes the stored device tokens (a registration not
// yet exchanged).
func (e *Env) DeleteDeviceTokens(t *testing.T, profile string) {
	t.Helper()
	e.Store.Delete(profile, keystore.ItemDeviceAccessToken)
	e.Store.Delete(profile, keystore.ItemDeviceRefreshToken)
}
