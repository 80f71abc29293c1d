package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/server"

	"github.com/paragon-cli/paragon/internal/testutil"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		name    string
		env     string // PARAGON_ADMIN_TOKEN
		args    []string
		check   func(t *testing.T, o *Options)
		wantErr string
	}{
		{
			name: "defaults",
			args: nil,
			check: func(t *testing.T, o *Options) {
				if o.Addr != "127.0.0.1:7300" || o.OAuthAddr != "" || o.ConfigFile != "" || o.DataFile != "" || o.AdminToken != "" ||
					o.FakeClock || o.TLSSelfSigned || o.TLSCert != "" || o.LogFormat != "text" || o.PasswordCost != 0 {
					t.Errorf("defaults: %+v", o)
				}
			},
		},
		{
			name: "everything",
			args: []string{"--addr", ":0", "--oauth-addr", "127.0.0.1:7400", "--config", "a.yaml", "--data", "s.db", "--admin-token", "T",
				"--fake-clock", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--log-format", "json", "--password-cost", "4"},
			check: func(t *testing.T, o *Options) {
				if o.Addr != ":0" || o.OAuthAddr != "127.0.0.1:7400" || o.ConfigFile != "a.yaml" || o.DataFile != "s.db" || o.AdminToken != "T" ||
					!o.FakeClock || o.TLSCert != "c.pem" || o.TLSKey != "k.pem" || o.LogFormat != "json" || o.PasswordCost != 4 {
					t.Errorf("parsed: %+v", o)
				}
			},
		},
		{name: "admin token from the environment", env: "from-env", args: nil, check: func(t *testing.T, o *Options) {
			if o.AdminToken != "from-env" {
				t.Errorf("AdminToken %q", o.AdminToken)
			}
		}},
		{name: "flag beats the environment", env: "from-env", args: []string{"--admin-token", "flag"}, check: func(t *testing.T, o *Options) {
			if o.AdminToken != "flag" {
				t.Errorf("AdminToken %q", o.AdminToken)
			}
		}},
		{name: "self-signed", args: []string{"--tls-self-signed"}, check: func(t *testing.T, o *Options) {
			if !o.TLSSelfSigned {
				t.Error("TLSSelfSigned not set")
			}
		}},
		{name: "every interface with the token from the environment", env: "from-env", args: []string{"--addr", "0.0.0.0:7300"}, check: func(t *testing.T, o *Options) {
			if o.AdminToken != "from-env" || o.Addr != "0.0.0.0:7300" {
				t.Errorf("parsed: %+v", o)
			}
		}},
		{name: "loopback without a token", args: []string{"--addr", "localhost:0", "--oauth-addr", "0.0.0.0:7400"}, check: func(t *testing.T, o *Options) {
			if o.AdminToken != "" {
				t.Errorf("AdminToken %q", o.AdminToken)
			}
		}},
		{name: "IPv6 loopback without a token", args: []string{"--addr", "[::1]:0"}, check: func(t *testing.T, o *Options) {}},
		{name: "every interface without a token", args: []string{"--addr", "0.0.0.0:7300"},
			wantErr: "--addr 0.0.0.0:7300 listens beyond loopback, where anyone who reaches the port could use a printed admin token: set PARAGON_ADMIN_TOKEN (or --admin-token) to a token of your own"},
		{name: "empty host without a token", args: []string{"--addr", ":7300"},
			wantErr: "--addr :7300 listens beyond loopback, where anyone who reaches the port could use a printed admin token: set PARAGON_ADMIN_TOKEN (or --admin-token) to a token of your own"},
		{name: "a host name without a token", args: []string{"--addr", "paragon.example:7300"},
			wantErr: "--addr paragon.example:7300 listens beyond loopback, where anyone who reaches the port could use a printed admin token: set PARAGON_ADMIN_TOKEN (or --admin-token) to a token of your own"},
		{name: "missing port", args: []string{"--addr", "localhost"}, wantErr: `invalid --addr "localhost": missing port in address; use HOST:PORT, e.g. 127.0.0.1:7300`},
		{name: "bad port", args: []string{"--addr", "127.0.0.1:http"}, wantErr: `invalid --addr "127.0.0.1:http": port "http" is not a number from 0 to 65535`},
		{name: "port too big", args: []string{"--addr", "127.0.0.1:70000"}, wantErr: `invalid --addr "127.0.0.1:70000": port "70000" is not a number from 0 to 65535`},
		{name: "bad oauth addr", args: []string{"--oauth-addr", "nope"}, wantErr: `invalid --oauth-addr "nope": missing port in address; use HOST:PORT, e.g. 127.0.0.1:7300`},
		{name: "cert without key", args: []string{"--tls-cert", "c.pem"}, wantErr: "--tls-cert and --tls-key must be given together"},
		{name: "key without cert", args: []string{"--tls-key", "k.pem"}, wantErr: "--tls-cert and --tls-key must be given together"},
		{name: "self-signed and files", args: []string{"--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"}, wantErr: "--tls-self-signed cannot be combined with --tls-cert and --tls-key"},
		{name: "log format", args: []string{"--log-format", "xml"}, wantErr: `invalid --log-format "xml": use text or json`},
		{name: "password cost", args: []string{"--password-cost", "3"}, wantErr: "invalid --password-cost 3: use 4 to 31"},
		{name: "argument", args: []string{"extra"}, wantErr: `unknown command "extra" for "server"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			f := &cmdutil.Factory{IOStreams: ios, Getenv: func(k string) string {
				if k == "PARAGON_ADMIN_TOKEN" {
					return tt.env
				}
				return ""
			}}
			cmd := newCmdServer(f, func(_ context.Context, o *Options) error {
				got = o
				return nil
			})
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(tt.name, "argument") && cmdutil.ExitCode(err) != cmdutil.ExitUsage {
					t.Errorf("exit code %d, want %d (usage)", cmdutil.ExitCode(err), cmdutil.ExitUsage)
				}
				if got != nil {
					t.Error("run was called despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

// running is a server started by startServer.
type running struct {
	info   *bannerInfo
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer
	cancel context.CancelFunc
	done   chan struct{} // closed when run returned
	err    error         // run's result, set before done is closed
}

// wait returns run's result once it returned.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
		return nil
	}
}

// stop cancels the server's context and returns run's result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// startServer runs the command's run function with o (Addr defaults to a
// free port) and returns once it listens.
func startServer(t *testing.T, o *Options) *running {
	t.Helper()
	ios := o.IO
	if ios == nil {
		ios, _, _, _ = iostreams.Test()
	}
	r := &running{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, done: make(chan struct{})}
	ios.Out, ios.ErrOut = r.stdout, r.stderr
	o.IO = ios
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.LogFormat == "" {
		o.LogFormat = "text"
	}
	if o.PasswordCost == 0 {
		o.PasswordCost = 4
	}
	started := make(chan *bannerInfo, 1)
	o.started = func(b *bannerInfo) { started <- b }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.err = run(ctx, o)
		close(r.done)
	}()
	select {
	case r.info = <-started:
	case <-r.done:
		cancel()
		t.Fatalf("server did not start: %v", r.err)
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("server did not start in time")
	}
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("account:\n  access_token_ttl: soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"missing config", Options{ConfigFile: filepath.Join(dir, "nope.yaml")}, "reading the account file: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
		{"bad config", Options{ConfigFile: bad}, "reading the account file: " + bad + ": "},
		{"address in use", Options{Addr: busy.Addr().String()}, "cannot listen on " + busy.Addr().String() + ": "},
		{"bad certificate", Options{TLSCert: notPEM, TLSKey: notPEM}, "loading the TLS certificate: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, stdout, _ := iostreams.Test()
			o := tt.opts
			o.IO, o.LogFormat, o.PasswordCost = ios, "text", 4
			if o.Addr == "" {
				o.Addr = "127.0.0.1:0"
			}
			err := run(context.Background(), &o)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want prefix %q", err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("banner printed although the server did not start:\n%s", stdout)
			}
		})
	}
}

func TestServeBannerAndLogs(t *testing.T) {
	r := startServer(t, &Options{AdminToken: "admin-secret-token", LogFormat: "json"})
	base := r.info.BaseURL
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(base) {
		t.Fatalf("base URL %q", base)
	}
	if !strings.HasSuffix(r.stdout.String(), "\nlistening on "+base+"\n") {
		t.Errorf("banner does not end with the listen line:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout.String(), "admin-secret-token") {
		t.Error("banner lacks the admin token")
	}

	req, _ := http.NewRequest("GET", base+"/admin/api/devices", nil)
	req.Header.Set("Authorization", "Bearer admin-secret-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("admin devices: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", base+"/api/v1/login?authtype=0&userid=alice&password=wonderland", nil)
	req.Header.Set("X-Api-Key", server.DemoKeyValue)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if err := r.stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	logs := r.stderr.String()
	var sawAdmin, sawLogin bool
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "request" && rec["path"] == "/admin/api/devices" {
			sawAdmin = rec["method"] == "GET" && rec["status"] == float64(200) && rec["duration"] != nil
		}
		if rec["msg"] == "request" && rec["path"] == "/api/v1/login" {
			sawLogin = rec["status"] == float64(403)
		}
	}
	if !sawAdmin || !sawLogin {
		t.Errorf("request log lines missing or incomplete (admin %v, login %v):\n%s", sawAdmin, sawLogin, logs)
	}
	for _, secret := range []string{"admin-secret-token", "wonderland", server.DemoKeyValue} {
		if strings.Contains(logs, secret) {
			t.Errorf("log reveals %q:\n%s", secret, logs)
		}
	}
}

func TestServeBannerOnTerminal(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	ios.SetTTY(true)
	r := startServer(t, &Options{IO: ios})
	out := r.stdout.String()
	if !strings.Contains(out, "\x1b[") {
		t.Errorf("banner on a terminal is not styled:\n%q", out)
	}
	if !strings.HasSuffix(out, "\nlistening on "+r.info.BaseURL+"\n") {
		t.Errorf("styled banner must end with the plain listen line:\n%q", out)
	}

	ios2, _, _, _ := iostreams.Test()
	ios2.SetTTY(true)
	ios2.SetNoColor(true)
	r2 := startServer(t, &Options{IO: ios2})
	if strings.Contains(r2.stdout.String(), "\x1b[") {
		t.Error("NO_COLOR banner is styled")
	}
}

func TestGracefulShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	o := &Options{}
	o.wrap = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" && r.URL.Query().Get("slow") == "1" {
				close(entered)
				<-release
			}
			h.ServeHTTP(w, r)
		})
	}
	r := startServer(t, o)

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(r.info.BaseURL + "/healthz?slow=1")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-entered
	r.cancel()

	// The listener closes at once while the request is still in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(r.info.BaseURL, "http://"))
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepts connections after the shutdown signal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-r.done:
		t.Fatalf("run returned (%v) before the request in flight finished", r.err)
	default:
	}
	close(release)
	res := <-got
	if res.err != nil || res.status != 200 {
		t.Fatalf("in-flight request: status %d, err %v", res.status, res.err)
	}
	if err := r.wait(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(r.stderr.String(), "shutting down") {
		t.Errorf("no shutdown notice on stderr: %q", r.stderr.String())
	}
}

func TestShutdownTimeout(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	o := &Options{ShutdownTimeout: 50 * time.Millisecond}
	o.wrap = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("hang") == "1" {
				close(entered)
				<-release
			}
			h.ServeHTTP(w, r)
		})
	}
	r := startServer(t, o)
	go func() {
		resp, err := http.Get(r.info.BaseURL + "/healthz?hang=1")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	err := r.stop(t)
	if err == nil || !strings.Contains(err.Error(), "graceful shutdown: context deadline exceeded") {
		t.Fatalf("run = %v, want a graceful shutdown timeout", err)
	}
}

// The http.Server guards against slow clients (slowloris), and its write
// timeout leaves room for the longest injected fault delay plus the work of
// the request itself, so a delayed request still gets its answer.
func TestHTTPServerTimeouts(t *testing.T) {
	hs := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.WriteTimeout <= 0 || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 {
		t.Fatalf("missing a limit: %+v", hs)
	}
	if hs.ReadHeaderTimeout > 10*time.Second || hs.MaxHeaderBytes > 64<<10 {
		t.Errorf("header limits too loose: %v, %d bytes", hs.ReadHeaderTimeout, hs.MaxHeaderBytes)
	}
	if margin := hs.WriteTimeout - server.MaxFaultDelay; margin < 20*time.Second {
		t.Errorf("write timeout %v leaves %v after the longest fault delay %v", hs.WriteTimeout, margin, server.MaxFaultDelay)
	}
}

func TestOAuthListener(t *testing.T) {
	r := startServer(t, &Options{OAuthAddr: "127.0.0.1:0"})
	if r.info.OAuthURL == r.info.BaseURL {
		t.Fatalf("OAuth URL %s is the main one", r.info.OAuthURL)
	}
	if !strings.Contains(r.stdout.String(), r.info.OAuthURL+"/oauth/v1  (its own listener)") {
		t.Errorf("banner does not show the OAuth listener:\n%s", r.stdout)
	}
	status := func(method, u string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("X-Api-Key", server.DemoKeyValue)
		return send(t, req)
	}
	reg := url.Values{"client_id": {"dev-1"}, "client_secret": {server.DemoKeyValue}, "client_type": {"desktop_client"}, "response_type": {"device_code"}}
	for _, base := range []string{r.info.OAuthURL, r.info.BaseURL} {
		if code, body := status("POST", base+"/oauth/v1/register", reg); code != 200 || !strings.Contains(body, `"device_code"`) {
			t.Errorf("register at %s: %d %s", base, code, body)
		}
		if code, _ := status("GET", base+"/healthz", nil); code != 200 {
			t.Errorf("healthz at %s: %d", base, code)
		}
	}
	for _, path := range []string{"/api/v1/version", "/admin/api/devices", "/admin"} {
		if code, _ := status("GET", r.info.OAuthURL+path, nil); code != 404 {
			t.Errorf("OAuth listener answers %s with %d, want 404", path, code)
		}
	}
	if code, _ := status("GET", r.info.BaseURL+"/api/v1/version", nil); code != 403 {
		t.Errorf("main listener: version without a token = %d, want 403", code)
	}
}

func TestTLSSelfSigned(t *testing.T) {
	r := startServer(t, &Options{TLSSelfSigned: true, OAuthAddr: "127.0.0.1:0"})
	if !strings.HasPrefix(r.info.BaseURL, "https://127.0.0.1:") || !strings.HasPrefix(r.info.OAuthURL, "https://") {
		t.Fatalf("URLs %s %s", r.info.BaseURL, r.info.OAuthURL)
	}
	ci := r.info.Cert
	pemBytes, err := os.ReadFile(ci.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	sum := sha256.Sum256(block.Bytes)
	if fp := strings.ReplaceAll(ci.Fingerprint, ":", ""); !strings.EqualFold(fp, bytesHex(sum[:])) {
		t.Errorf("fingerprint %s does not match the file", ci.Fingerprint)
	}
	out := r.stdout.String()
	for _, want := range []string{ci.CertFile, ci.Fingerprint, "--cacert " + ci.CertFile} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	cert, _ := x509.ParseCertificate(block.Bytes)
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("certificate key %v, want ECDSA", cert.PublicKeyAlgorithm)
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	client := func(conf *tls.Config) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	}
	for _, u := range []string{r.info.BaseURL, r.info.OAuthURL, strings.Replace(r.info.BaseURL, "127.0.0.1", "localhost", 1)} {
		resp, err := client(&tls.Config{RootCAs: pool}).Get(u + "/healthz")
		if err != nil {
			t.Fatalf("client trusting the printed certificate: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 || resp.ProtoMajor != 2 {
			t.Errorf("%s: status %d, %s, TLS %v", u, resp.StatusCode, resp.Proto, resp.TLS)
		}
	}
	_, err = client(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}).Get(r.info.BaseURL + "/healthz")
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 client: err = %v, want a protocol version refusal", err)
	}
	_, err = client(&tls.Config{}).Get(r.info.BaseURL + "/healthz")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("client without the CA: err = %v, want unknown authority", err)
	}

	dir := filepath.Dir(ci.CertFile)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary certificate directory %s left behind (%v)", dir, err)
	}
}

func bytesHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestTLSCertFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if _, err := ensureSelfSigned(certFile, keyFile, "127.0.0.1", time.Now()); err != nil {
		t.Fatal(err)
	}
	r := startServer(t, &Options{TLSCert: certFile, TLSKey: keyFile})
	pemBytes, _ := os.ReadFile(certFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(r.info.BaseURL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(r.stdout.String(), "given by --tls-cert") {
		t.Errorf("banner:\n%s", r.stdout)
	}
	if _, err := os.Stat(certFile); err != nil {
		t.Errorf("the user's certificate must stay: %v", err)
	}
}

func TestEnsureSelfSignedReuse(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	now := time.Now()
	reused, err := ensureSelfSigned(certFile, keyFile, "127.0.0.1", now)
	if err != nil || reused {
		t.Fatalf("first: reused %v, err %v", reused, err)
	}
	first, _ := os.ReadFile(certFile)
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	reused, err = ensureSelfSigned(certFile, keyFile, "localhost", now.Add(time.Hour))
	second, _ := os.ReadFile(certFile)
	if err != nil || !reused || !bytes.Equal(first, second) {
		t.Fatalf("same names: reused %v, err %v, changed %v", reused, err, !bytes.Equal(first, second))
	}
	reused, err = ensureSelfSigned(certFile, keyFile, "192.0.2.7", now)
	third, _ := os.ReadFile(certFile)
	if err != nil || reused || bytes.Equal(first, third) {
		t.Fatalf("new host: reused %v, err %v", reused, err)
	}
	block, _ := pem.Decode(third)
	cert, _ := x509.ParseCertificate(block.Bytes)
	for _, h := range []string{"192.0.2.7", "127.0.0.1", "::1", "localhost"} {
		if err := cert.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not cover %s: %v", h, err)
		}
	}
	reused, err = ensureSelfSigned(certFile, keyFile, "192.0.2.7", cert.NotAfter.Add(-time.Hour))
	if err != nil || reused {
		t.Fatalf("about to expire: reused %v, err %v", reused, err)
	}
}

func demoBanner() *bannerInfo {
	return &bannerInfo{
		Version:    "1.2.3",
		BaseURL:    "http://127.0.0.1:7300",
		OAuthURL:   "http://127.0.0.1:7300",
		AdminToken: "0123456789abcdef",
		Account:    server.DemoAccount(),
		Source:     "demo account",
	}
}

func TestBannerPlain(t *testing.T) {
	got := renderBanner(demoBanner(), false)
	want := `paragon server 1.2.3: a reference Paragon Cloud API server for tests

  API          http://127.0.0.1:7300/api/v1
  OAuth        http://127.0.0.1:7300/oauth/v1
  Admin page   http://127.0.0.1:7300/admin
  Admin token  0123456789abcdef  (admin API: Authorization: Bearer <token>)
  API key      paragon-dev-key  (key "default"; header X-Api-Key)
  Account      demo account
  State        in memory  (lost at exit; --data FILE keeps it)
  Clock        real

Users
  USERNAME  PASSWORD         CARD ID    SHORT ID  EMAIL              ADMIN
  alice     wonderland       CARD-0001  1001      alice@example.com
  bob       builder          CARD-0002  1002      bob@example.com
  carol     queen-of-hearts  CARD-0003  1003      carol@example.com  yes

First calls
  # Is it up? HEAD /api/v1/account is the one call without an API key:
  curl -s -o /dev/null -w '%{http_code}\n' -I http://127.0.0.1:7300/api/v1/account
  # Every other call needs the key and a user token; without a token: 403.
  curl -s -H 'X-Api-Key: paragon-dev-key' http://127.0.0.1:7300/api/v1/version
  # Login needs a trusted device's token. Shortcut: let the key log in without one,
  curl -s -X PATCH -H 'Authorization: Bearer 0123456789abcdef' -d '{"allow_untrusted":true}' http://127.0.0.1:7300/admin/api/keys/default
  # then log in and use the access_token as Authorization: Bearer <token>:
  curl -s -H 'X-Api-Key: paragon-dev-key' -d authtype=0 -d userid=alice -d password=wonderland http://127.0.0.1:7300/api/v1/login
  # The whole walk with a trusted Ed25519 device: docs/walkthrough-curl.md

Stop with Ctrl-C. Request logs go to stderr.
listening on http://127.0.0.1:7300
`
	if got != want {
		t.Errorf("banner:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(got, "\x1b[") {
		t.Error("plain banner has escape sequences")
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestBannerStyled(t *testing.T) {
	b := demoBanner()
	styled := renderBanner(b, true)
	if !strings.Contains(styled, "\x1b[") {
		t.Fatal("styled banner has no escape sequences")
	}
	plain := renderBanner(b, false)
	if ansi.ReplaceAllString(styled, "") != plain {
		t.Errorf("styled banner differs from the plain one in more than styling:\n%s", styled)
	}
	if !strings.HasSuffix(styled, "\nlistening on http://127.0.0.1:7300\n") {
		t.Error("the listen line must stay plain")
	}
}

func TestBannerVariants(t *testing.T) {
	b := demoBanner()
	b.OAuthURL = "https://127.0.0.1:7400"
	b.BaseURL = "https://127.0.0.1:7300"
	b.FakeClock = true
	b.DataFile = "state.db"
	b.Cert = &certInfo{CertFile: "/tmp/my dir/state.db.cert.pem", Fingerprint: "AB:CD", Generated: true, Reused: true}
	b.Account.Keys[0].AllowUntrusted = true
	b.Source = "account.yaml"
	got := renderBanner(b, false)
	for _, want := range []string{
		"OAuth        https://127.0.0.1:7400/oauth/v1  (its own listener)",
		"State        state.db  (survives restarts)",
		`Clock        fake: moves only through POST /admin/api/clock {"advance":"61m"}`,
		"TLS cert     /tmp/my dir/state.db.cert.pem  (self-signed, reused; clients: --cacert FILE)",
		"SHA-256      AB:CD",
		"curl -s --cacert '/tmp/my dir/state.db.cert.pem' -H 'X-Api-Key: paragon-dev-key' -d authtype=0 -d userid=alice -d password=PASSWORD https://127.0.0.1:7300/api/v1/login",
		"(passwords as in account.yaml)",
		"  # Log in and use the access_token",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("banner lacks %q:\n%s", want, got)
		}
	}
	for _, absent := range []string{"wonderland", "allow_untrusted"} {
		if strings.Contains(got, absent) {
			t.Errorf("banner for a config file shows %q:\n%s", absent, got)
		}
	}
}

func TestDataFileAndCertSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "state.db")
	opts := func() *Options {
		return &Options{DataFile: data, TLSSelfSigned: true, AdminToken: "T"}
	}
	r := startServer(t, opts())
	if r.info.Cert.CertFile != data+".cert.pem" || r.info.Cert.Reused {
		t.Fatalf("certificate %+v, want a new one beside the data file", r.info.Cert)
	}
	if !strings.Contains(r.stdout.String(), "State        "+data+"  (survives restarts)") {
		t.Errorf("banner:\n%s", r.stdout)
	}
	pemBytes, _ := os.ReadFile(r.info.Cert.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	form := url.Values{"client_id": {"persisted"}, "client_secret": {server.DemoKeyValue}, "client_type": {"printer"}, "response_type": {"device_code"}}
	resp, err := c.PostForm(r.info.BaseURL+"/oauth/v1/register", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	fp := r.info.Cert.Fingerprint
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	r2 := startServer(t, opts())
	if !r2.info.Cert.Reused || r2.info.Cert.Fingerprint != fp {
		t.Errorf("restart: certificate %+v, want the same one reused", r2.info.Cert)
	}
	req, _ := http.NewRequest("GET", r2.info.BaseURL+"/admin/api/devices", nil)
	req.Header.Set("Authorization", "Bearer T")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"client_id":"persisted"`) {
		t.Errorf("device lost across the restart: %s", body)
	}
}

func TestDamagedDataFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state.db")
	junk := bytes.Repeat([]byte("not a database "), 1000)
	if err := os.WriteFile(data, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	err := run(context.Background(), &Options{IO: ios, Addr: "127.0.0.1:0", LogFormat: "text", PasswordCost: 4, DataFile: data})
	if err == nil || !strings.Contains(err.Error(), data) || !errors.Is(err, server.ErrStateFile) {
		t.Fatalf("run = %v, want an unusable state file error naming it", err)
	}
	if got, _ := os.ReadFile(data); !bytes.Equal(got, junk) {
		t.Error("the damaged file was changed")
	}
	if stdout.Len() != 0 {
		t.Error("banner printed")
	}
}
