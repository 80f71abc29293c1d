package cmdutil

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/cmd/internal/early"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/keystore"
)

func testFactory(t *testing.T, env map[string]string) (*Factory, *iostreamsBufs) {
	ios, _, out, errOut := iostreams.Test()
	path := filepath.Join(t.TempDir(), "config.yml")
	f := &Factory{
		IOStreams:  ios,
		Getenv:     func(k string) string { return env[k] },
		ConfigPath: func() (string, error) { return path, nil },
	}
	return f, &iostreamsBufs{out: out.String, errOut: errOut.String}
}

type iostreamsBufs struct{ out, errOut func() string }

func TestProfileNamePrecedence(t *testing.T) {
	f, _ := testFactory(t, map[string]string{})
	if n, named, _ := f.ProfileName(); n != "default" || named {
		t.Errorf("default: %q %v", n, named)
	}
	cfg, _ := f.Config()
	cfg.Current = "saved"
	if n, named, _ := f.ProfileName(); n != "saved" || named {
		t.Errorf("current: %q %v", n, named)
	}
	f.Getenv = func(k string) string { return map[string]string{config.EnvProfile: "fromenv"}[k] }
	if n, named, _ := f.ProfileName(); n != "fromenv" || !named {
		t.Errorf("env: %q %v", n, named)
	}
	f.Globals.Profile = "fromflag"
	if n, named, _ := f.ProfileName(); n != "fromflag" || !named {
		t.Errorf("flag: %q %v", n, named)
	}
	f.Globals.Profile = "bad name"
	if _, _, err := f.ProfileName(); ExitCode(err) != ExitUsage {
		t.Errorf("bad name: %v", err)
	}
}

func TestStoreChoice(t *testing.T) {
	tests := []struct {
		globals GlobalOptions
		profile *config.Profile
		env     string
		want    string
		wantErr string
	}{
		{want: "auto"},
		{env: "file", want: "file"},
		{profile: &config.Profile{Keystore: "keyring"}, env: "file", want: "keyring"},
		{globals: GlobalOptions{Keystore: "file"}, profile: &config.Profile{Keystore: "keyring"}, want: "file"},
		{globals: GlobalOptions{InsecureStorage: true}, want: "file"},
		{globals: GlobalOptions{InsecureStorage: true, Keystore: "file"}, want: "file"},
		{globals: GlobalOptions{InsecureStorage: true, Keystore: "keyring"}, wantErr: "--insecure-storage keeps secrets in a file and cannot be combined with --keystore keyring"},
		{globals: GlobalOptions{Keystore: "vault"}, wantErr: `unknown keystore "vault": use auto, keyring or file`},
	}
	for _, tt := range tests {
		f, _ := testFactory(t, map[string]string{EnvKeystore: tt.env})
		f.Globals = tt.globals
		got, err := f.storeChoice(tt.profile)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || ExitCode(err) != ExitUsage {
				t.Errorf("%+v: err %v, want %q", tt, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%+v: %q %v, want %q", tt, got, err, tt.want)
		}
	}
}

func TestWarnStorageOnFallback(t *testing.T) {
	f, bufs := testFactory(t, map[string]string{})
	f.OpenStore = func(string) (keystore.Store, keystore.Notice, error) {
		return keystore.NewMemory(), keystore.Notice{Fallback: true, Reason: "no Secret Service", Path: "/home/u/.config/paragon/secrets.json"}, nil
	}
	s, err := f.OpenSession(context.Background(), &ProfileOverrides{Server: "http://h:1", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	s.WarnStorage()
	want := "! WARNING: no usable OS keyring (no Secret Service); secrets are stored in /home/u/.config/paragon/secrets.json (mode 0600)\n"
	if got := bufs.errOut(); !strings.HasPrefix(got, want) || !strings.Contains(got, "--insecure-storage") {
		t.Errorf("stderr %q", got)
	}
}

func TestWarnStorageExplicitFile(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		f, bufs := testFactory(t, map[string]string{})
		f.Globals.Keystore = "file"
		f.Globals.InsecureStorage = insecure
		f.OpenStore = func(string) (keystore.Store, keystore.Notice, error) {
			return keystore.NewMemory(), keystore.Notice{}, nil
		}
		s, err := f.OpenSession(context.Background(), &ProfileOverrides{Server: "http://h:1", APIKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		s.WarnStorage()
		if warned := strings.Contains(bufs.errOut(), "WARNING"); warned == insecure {
			t.Errorf("--insecure-storage=%v: warned=%v (%q)", insecure, warned, bufs.errOut())
		}
	}
}

func TestExplain(t *testing.T) {
	cmd := func(s string) string { return "paragon " + s + " --profile p" }
	connRefused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		err  error
		code int
		want string
	}{
		{fmt.Errorf("x: %w", client.ErrLoginRequired), ExitAuth, "your login has expired or was revoked: log in again; to fix this, run: paragon login --profile p"},
		{fmt.Errorf("x: %w", client.ErrDeviceNotTrusted), ExitAuth, "this device is no longer trusted by the server (its token expired or it was removed): register it again; to fix this, run: paragon device register --profile p"},
		{client.ErrAccessDenied, ExitFailure, "an administrator refused this device; ask them why, then run paragon device register --profile p"},
		{client.ErrDeviceCodeExpired, ExitAuth, "nobody approved the device in time (its device code expired); to fix this, run: paragon device register --profile p"},
		{&client.APIError{StatusCode: 401, Code: "invalid_credentials"}, ExitFailure, "wrong user name or password (the server refused the credentials); try again"},
		{&client.APIError{StatusCode: 429, Code: "too_many_attempts", RetryAfter: 90 * time.Second}, ExitFailure, "too many failed logins for this user; try again in 1m30s"},
		{&client.APIError{StatusCode: 403, Code: "invalid_api_key"}, ExitAuth, "the server refused the API key (403 invalid_api_key): it is unknown, inactive, expired or not allowed from this address; to fix this, run: paragon login --api-key-stdin --profile p"},
		{&client.APIError{StatusCode: 500, Code: "server_error"}, ExitFailure, "the server answered 500 Internal Server Error: server_error"},
		{fmt.Errorf("get: %w", connRefused), ExitFailure, "cannot reach h:1: connection refused (is the server running? check --server)"},
		{&net.DNSError{Err: "no such host", Name: "h"}, ExitFailure, "cannot reach h:1: unknown host (check --server)"},
		{fmt.Errorf("x: %w", keystore.ErrTimeout), ExitFailure, "the OS keyring did not answer (is it locked?): unlock it and retry, or use --insecure-storage to keep secrets in a file"},
		{context.Canceled, ExitInterrupted, "interrupted"},
		{errors.New("other"), ExitFailure, "other"},
		{errors.New("keystore: keyring: reading api-key of profile p: org.freedesktop.DBus.Error.NoReply"), ExitFailure, "the secret store failed: reading api-key of profile p: org.freedesktop.DBus.Error.NoReply"},
		{errors.New("keystore: file: /x/secrets.json is not a paragon secrets file (invalid JSON); move it away to start afresh"), ExitFailure, "the secret store failed: /x/secrets.json is not a paragon secrets file (invalid JSON); move it away to start afresh"},
	}
	for _, tt := range tests {
		got := explain(tt.err, []Target{{Flag: "--server", URL: "http://h:1"}}, cmd)
		if got.Error() != tt.want || ExitCode(got) != tt.code {
			t.Errorf("%v:\n got %q (exit %d)\nwant %q (exit %d)", tt.err, got, ExitCode(got), tt.want, tt.code)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	for _, tty := range []bool{false, true} {
		ios, _, out, _ := iostreams.Test()
		ios.SetTTY(tty)
		ios.SetNoColor(true)
		if err := WriteJSON(ios, map[string]any{"a": 1, "b": "<x>"}); err != nil {
			t.Fatal(err)
		}
		want := `{"a":1,"b":"<x>"}` + "\n"
		if tty {
			want = "{\n  \"a\": 1,\n  \"b\": \"<x>\"\n}\n"
		}
		if out.String() != want {
			t.Errorf("tty=%v: %q", tty, out)
		}
	}
}

// tlsServer returns a TLS test server and a PEM file of its certificate.
func tlsServer(t *testing.T) (*httptest.Server, string) {
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	hs.StartTLS()
	t.Cleanup(hs.Close)
	pemFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := hs.Certificate()
	os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
	return hs, pemFile
}

func TestTLSOptions(t *testing.T) {
	hs, pemFile := tlsServer(t)
	get := func(f *Factory) error {
		hc, err := f.HTTPClient("")
		if err != nil {
			return err
		}
		resp, err := hc.Get(hs.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	f, _ := testFactory(t, nil)
	err := get(f)
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("untrusted certificate accepted: %v", err)
	}
	if msg := explain(err, []Target{{Flag: "--server", URL: hs.URL}}, func(s string) string { return s }).Error(); !strings.Contains(msg, "cannot verify the TLS certificate of 127.0.0.1") || !strings.Contains(msg, "--cacert") {
		t.Errorf("message %q", msg)
	}

	f, _ = testFactory(t, nil)
	f.Globals.CACert = pemFile
	if err := get(f); err != nil {
		t.Fatalf("--cacert: %v", err)
	}

	f, bufs := testFactory(t, nil)
	f.Globals.Insecure = true
	if err := get(f); err != nil {
		t.Fatalf("--insecure: %v", err)
	}
	if !strings.Contains(bufs.errOut(), "warning: --insecure: TLS certificates are not verified") {
		t.Errorf("no warning: %q", bufs.errOut())
	}

	f, _ = testFactory(t, nil)
	f.Globals.CACert = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := f.HTTPClient(""); ExitCode(err) != ExitUsage {
		t.Errorf("missing --cacert file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	f, _ = testFactory(t, nil)
	f.Globals.CACert = bad
	if _, err := f.HTTPClient(""); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad --cacert file: %v", err)
	}
}

// Two profiles with their own CAs in one command (status --all): each
// client trusts its profile's CA (the first one built was used for every
// CA), and asking again reuses the client.
func TestHTTPClientPerCACert(t *testing.T) {
	hs, pemServer := tlsServer(t)
	pemOther := otherCA(t)
	f, _ := testFactory(t, nil)
	get := func(cacert string) error {
		hc, err := f.HTTPClient(cacert)
		if err != nil {
			return err
		}
		resp, err := hc.Get(hs.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	var ua x509.UnknownAuthorityError
	if err := get(pemOther); !errors.As(err, &ua) {
		t.Fatalf("a profile with another CA: %v, want an unknown authority", err)
	}
	if err := get(pemServer); err != nil {
		t.Fatalf("a profile with the server's CA, after one with another: %v", err)
	}
	c1, _ := f.HTTPClient(pemServer)
	c2, _ := f.HTTPClient(pemServer)
	if c1 != c2 {
		t.Error("the same CA file built a second client")
	}
}

// otherCA writes a self-signed certificate that signed nothing the tests
// serve.
func otherCA(t *testing.T) string {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDebugTraceMasksSecrets(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"secret-at","refresh_token":"secret-rt"}`))
	}))
	defer hs.Close()
	f, bufs := testFactory(t, nil)
	f.Globals.Debug = true
	hc, err := f.HTTPClient("")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", hs.URL+"/api/v1/version", nil)
	req.Header.Set("X-Api-Key", "secret-key")
	req.Header.Set("Authorization", "Bearer secret-bearer")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	trace := bufs.errOut()
	if !strings.Contains(trace, "> GET "+hs.URL+"/api/v1/version") || !strings.Contains(trace, "< 200 OK") {
		t.Errorf("no trace: %q", trace)
	}
	for _, secret := range []string{"secret-key", "secret-bearer", "secret-at", "secret-rt"} {
		if strings.Contains(trace, secret) {
			t.Errorf("trace shows %s:\n%s", secret, trace)
		}
	}
}

func TestDescribeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if got := DescribeExpiry(time.Time{}, now); got != "no expiry known" {
		t.Error(got)
	}
	if got := DescribeExpiry(now.Add(42*time.Minute), now); !strings.HasPrefix(got, "valid until ") || !strings.HasSuffix(got, "(in 42m0s)") {
		t.Error(got)
	}
	if got := DescribeExpiry(now.Add(-5*time.Minute), now); !strings.HasPrefix(got, "expired ") || !strings.HasSuffix(got, "(5m0s ago)") {
		t.Error(got)
	}
}

func TestFallbackIsRememberedAndWarnedAgain(t *testing.T) {
	f, bufs := testFactory(t, map[string]string{})
	fallback := true
	file := keystore.NewFile(filepath.Join(t.TempDir(), "secrets.json"))
	f.OpenStore = func(string) (keystore.Store, keystore.Notice, error) {
		if fallback {
			return file, keystore.Notice{Fallback: true, Reason: "no bus", Path: file.Path()}, nil
		}
		return file, keystore.Notice{}, nil
	}
	s, err := f.OpenSession(context.Background(), &ProfileOverrides{Server: "http://h:1", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	cfg, _ := f.Config()
	if p, _ := cfg.Profile("default"); !p.KeystoreFallback {
		t.Fatalf("fallback not recorded: %+v", p)
	}
	// The next command opens the recorded file store: no Notice, but the
	// warning comes again.
	fallback = false
	s2, err := f.OpenSession(context.Background(), &ProfileOverrides{})
	if err != nil {
		t.Fatal(err)
	}
	s2.WarnStorage()
	if !strings.Contains(bufs.errOut(), "because no OS keyring was usable") {
		t.Errorf("no second warning: %q", bufs.errOut())
	}
	// --insecure-storage accepts it for good.
	f.Globals.InsecureStorage = true
	s3, err := f.OpenSession(context.Background(), &ProfileOverrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Save(); err != nil {
		t.Fatal(err)
	}
	if p, _ := cfg.Profile("default"); p.KeystoreFallback {
		t.Errorf("--insecure-storage did not accept the file: %+v", p)
	}
}

func TestCACertRememberedByProfile(t *testing.T) {
	hs, pemFile := tlsServer(t)
	f, _ := testFactory(t, nil)
	store := keystore.NewMemory()
	f.OpenStore = func(string) (keystore.Store, keystore.Notice, error) { return store, keystore.Notice{}, nil }
	f.Globals.CACert = pemFile
	s, err := f.OpenSession(context.Background(), &ProfileOverrides{Server: hs.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	// A new process: no --cacert, the profile's CA is used.
	path, _ := f.ConfigPath()
	f2, _ := testFactory(t, nil)
	f2.ConfigPath = func() (string, error) { return path, nil }
	f2.OpenStore = f.OpenStore
	s2, err := f2.OpenSession(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Profile.CACert != pemFile {
		t.Fatalf("cacert %q", s2.Profile.CACert)
	}
	if err := s2.Client.Ping(context.Background()); err != nil {
		t.Fatalf("the profile's CA was not trusted: %v", err)
	}
}

// TestCtrlCAtTheAPIKeyPrompt: Ctrl-C while --api-key-stdin asks on a
// terminal is "interrupted", exit 130, like every other prompt.
func TestCtrlCAtTheAPIKeyPrompt(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	ios.SetTTY(true)
	block := make(chan struct{})
	defer close(block)
	ios.SetPasswordReader(func() ([]byte, error) { <-block; return nil, errors.New("unblocked") })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&ProfileFlags{APIKeyStdin: true}).Overrides(ctx, ios)
	if err == nil || err.Error() != "interrupted" || ExitCode(err) != ExitInterrupted {
		t.Fatalf("err %v (exit %d)", err, ExitCode(err))
	}
	if err := PromptError("the password", io.ErrUnexpectedEOF); err.Error() != "reading the password: unexpected EOF" || ExitCode(err) != ExitFailure {
		t.Errorf("other prompt failure: %v (exit %d)", err, ExitCode(err))
	}
}

// TestCmdCarriesUnsavedSettings: a hint for a profile this command was about
// to create repeats the settings it was given, so that it works as printed;
// once saved, the profile has them.
func TestCmdCarriesUnsavedSettings(t *testing.T) {
	f, _ := testFactory(t, map[string]string{})
	f.OpenStore = func(string) (keystore.Store, keystore.Notice, error) {
		return keystore.NewMemory(), keystore.Notice{}, nil
	}
	_, pemFile := tlsServer(t)
	ca := filepath.Join(filepath.Dir(pemFile), "my ca.pem")
	if err := os.Rename(pemFile, ca); err != nil {
		t.Fatal(err)
	}
	f.Globals = GlobalOptions{Profile: "p", CACert: ca, InsecureStorage: true}
	s, err := f.OpenSession(context.Background(), &ProfileOverrides{Server: "https://h:1/api/v1", OAuthURL: "https://h:2", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for sub, want := range map[string]string{
		"device register":                 "paragon device register --server https://h:1 --oauth-url https://h:2 --cacert '" + ca + "' --insecure-storage --api-key-stdin --profile p",
		"device register --api-key-stdin": "paragon device register --server https://h:1 --oauth-url https://h:2 --cacert '" + ca + "' --insecure-storage --api-key-stdin --profile p",
		"status":                          "paragon status --profile p",
	} {
		if got := s.Cmd(sub); got != want {
			t.Errorf("Cmd(%q)\n got %s\nwant %s", sub, got, want)
		}
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if got := s.Cmd("device register"); got != "paragon device register --profile p" {
		t.Errorf("after Save: %s", got)
	}
}

// cmd/internal/early reads the same items early that OpenSession asks the
// store for first; with other items Open would ignore its read.
func TestHotItemsAreEarlyItems(t *testing.T) {
	if !slices.Equal(hotItems, early.Items) {
		t.Errorf("OpenSession reads %v first, cmd/internal/early reads %v", hotItems, early.Items)
	}
}
