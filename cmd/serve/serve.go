// Package serve implements `paragon server`: it runs the reference server of
// package server on one or two listeners, over HTTP or HTTPS, prints a
// start-up banner with everything needed for a first call, logs requests
// with log/slog and shuts down gracefully on SIGINT or SIGTERM.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/build"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/server"
)

// DefaultAddr is where `paragon server` listens without --addr.
const DefaultAddr = "127.0.0.1:7300"

// Timeouts of the HTTP server. ReadHeaderTimeout and ReadTimeout keep a slow
// client (slowloris) from holding a connection; bodies are at most 1 MiB.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	// defaultShutdownTimeout bounds the wait for in-flight requests.
	defaultShutdownTimeout = 10 * time.Second
)

// Options are the inputs of `paragon server`.
type Options struct {
	IO *iostreams.IOStreams

	Addr       string
	OAuthAddr  string
	ConfigFile string
	DataFile   string
	// CheckpointBytes is the write-ahead log's size at which its changes go
	// into the --data file (hidden flag --data-checkpoint-bytes: the crash
	// tests make checkpoints frequent with it); 0: the default, 8 MiB.
	CheckpointBytes int64
	AdminToken      string
	FakeClock       bool
	TLSCert         string
	TLSKey          string
	TLSSelfSigned   bool
	LogFormat       string
	PasswordCost    int
	AllowedHosts    []string

	// ShutdownTimeout bounds the graceful shutdown; 0 means 10 s.
	ShutdownTimeout time.Duration

	// Test hooks: wrap decorates the server's handlers; started is called
	// once the listeners are up, with what the banner shows.
	wrap    func(http.Handler) http.Handler
	started func(*bannerInfo)
}

// NewCmdServer returns the `paragon server` command.
func NewCmdServer(f *cmdutil.Factory) *cobra.Command {
	return newCmdServer(f, nil)
}

// newCmdServer builds the command; runF replaces the run function in tests.
func newCmdServer(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the reference server, a test double of the Paragon Cloud API",
		Long: `Run the reference server: the public API (/api/v1), the OAuth service
(/oauth/v1), the admin API (/admin/api) and page (/admin), and /healthz.

Without flags it listens on 127.0.0.1:7300 with the demo account (API key
paragon-dev-key; users alice, bob and carol) and a random admin token, keeps
its state in memory, and prints on standard output everything needed to make
a first call with curl. The line "listening on URL" names the address (also
when --addr asks for port 0). Request logs go to standard error, written in
batches (a line waits at most 100 ms).

SIGINT (Ctrl-C), SIGTERM or SIGHUP stops it gracefully: requests in flight finish
(for up to 10 seconds) before it exits.

With --data the state (devices, token families, changed users, documents,
key switches, lifetimes, the fake clock) is kept in a file and survives
restarts and crashes; login throttling and injected faults are in memory only.
Changes go first to the write-ahead log FILE-wal beside it (one disk sync for
the changes of concurrent requests), which is written into FILE from time to
time and at exit. The two belong together: copy, move or delete them
together; while a server runs it holds both, and a second server on the same
FILE is refused.

With --tls-self-signed it generates an ECDSA P-256 certificate for the listen
host (and localhost, 127.0.0.1, ::1), writes it next to the --data file (else
into a temporary directory removed at exit) and prints its path and SHA-256
fingerprint: give the path to clients as a CA file (curl --cacert).

On a loopback address (the default) it answers only requests for localhost,
127.0.0.1 or [::1] (421 otherwise), so that a web page whose name is made to
resolve to 127.0.0.1 (DNS rebinding) cannot reach it; --allowed-host NAME
answers to NAME too (repeat it for more names; it also turns the check on
beyond loopback).

The admin token may also come from PARAGON_ADMIN_TOKEN (as for paragon
scenario run), which keeps it out of the process list. Listening beyond
loopback (--addr 0.0.0.0:7300, as in a container) needs one of the two: the
server refuses to start with a random admin token there.`,
		Example: `  # the demo server on 127.0.0.1:7300
  $ paragon server

  # a free port, a fixed admin token and a clock that only moves on request
  $ paragon server --addr 127.0.0.1:0 --admin-token secret --fake-clock

  # state that survives restarts, served over HTTPS with a generated certificate
  $ paragon server --data state.db --tls-self-signed

  # every interface (a container): the admin token must be your own
  $ PARAGON_ADMIN_TOKEN=secret paragon server --addr 0.0.0.0:7300

  # the OAuth service on a second port, as in the vendor's deployment
  $ paragon server --addr 127.0.0.1:7300 --oauth-addr 127.0.0.1:7400

  # your own account description and JSON request logs
  $ paragon server --config account.yaml --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("admin-token") {
				opts.AdminToken = f.Env("PARAGON_ADMIN_TOKEN")
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", DefaultAddr, "listen `HOST:PORT` (port 0: pick a free port and print it)")
	fl.StringVar(&opts.OAuthAddr, "oauth-addr", "", "also serve /oauth/v1 alone on this `HOST:PORT`")
	fl.StringVar(&opts.ConfigFile, "config", "", "YAML account description `FILE` instead of the demo account")
	fl.StringVar(&opts.DataFile, "data", "", "keep the state in this `FILE` (created if missing); without it, in memory")
	fl.Int64Var(&opts.CheckpointBytes, "data-checkpoint-bytes", 0, "write the log FILE-wal into --data FILE when it has this many `BYTES` (default 8 MiB)")
	_ = fl.MarkHidden("data-checkpoint-bytes")
	fl.StringVar(&opts.AdminToken, "admin-token", "", "admin API `TOKEN` (default: $PARAGON_ADMIN_TOKEN, else random; printed at start)")
	fl.BoolVar(&opts.FakeClock, "fake-clock", false, "time stands still unless advanced through POST /admin/api/clock")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate `FILE` (needs --tls-key)")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "PEM private key `FILE` of --tls-cert")
	fl.BoolVar(&opts.TLSSelfSigned, "tls-self-signed", false, "serve HTTPS with a generated self-signed certificate")
	fl.StringVar(&opts.LogFormat, "log-format", "text", "Request log `FORMAT` on stderr: text or json")
	fl.IntVar(&opts.PasswordCost, "password-cost", 0, "bcrypt `COST` for the account's passwords (4-31; default 10)")
	fl.StringArrayVar(&opts.AllowedHosts, "allowed-host", nil, "also answer requests for this host `NAME` (besides localhost, 127.0.0.1, [::1]); repeatable")
	return cmd
}

// validate checks the flags before anything is started; its errors are
// usage mistakes.
func (o *Options) validate() error {
	if err := checkAddr("--addr", o.Addr); err != nil {
		return err
	}
	if o.OAuthAddr != "" {
		if err := checkAddr("--oauth-addr", o.OAuthAddr); err != nil {
			return err
		}
	}
	if o.AdminToken == "" && !server.LoopbackHost(o.Addr) {
		return cmdutil.FlagErrorf("--addr %s listens beyond loopback, where anyone who reaches the port could use a printed admin token: set PARAGON_ADMIN_TOKEN (or --admin-token) to a token of your own", o.Addr)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return cmdutil.FlagErrorf("--tls-cert and --tls-key must be given together")
	}
	if o.TLSSelfSigned && o.TLSCert != "" {
		return cmdutil.FlagErrorf("--tls-self-signed cannot be combined with --tls-cert and --tls-key")
	}
	switch o.LogFormat {
	case "text", "json":
	default:
		return cmdutil.FlagErrorf("invalid --log-format %q: use text or json", o.LogFormat)
	}
	if o.PasswordCost != 0 && (o.PasswordCost < 4 || o.PasswordCost > 31) {
		return cmdutil.FlagErrorf("invalid --password-cost %d: use 4 to 31", o.PasswordCost)
	}
	for _, h := range o.AllowedHosts {
		if err := server.CheckAllowedHost(h); err != nil {
			return cmdutil.FlagErrorf("invalid --allowed-host %q: give a host name or IP address, e.g. --allowed-host myhost.lan", h)
		}
	}
	return nil
}

// checkAddr accepts HOST:PORT with a numeric port (host may be empty: every
// interface).
func checkAddr(flag, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return cmdutil.FlagErrorf("invalid %s %q: %s; use HOST:PORT, e.g. %s", flag, addr, addrErrText(err), DefaultAddr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return cmdutil.FlagErrorf("invalid %s %q: port %q is not a number from 0 to 65535", flag, addr, port)
	}
	if strings.ContainsAny(host, " /") {
		return cmdutil.FlagErrorf("invalid %s %q: bad host %q", flag, addr, host)
	}
	return nil
}

// checkHost reports whether the server answers only to loopback names (and
// --allowed-host), against DNS rebinding: when every listener is on
// loopback (an empty host, as in ":7300", is every interface). (--allowed-host turns the check on anyway.)
func (o *Options) checkHost() bool {
	return server.LoopbackHost(o.Addr) && (o.OAuthAddr == "" || server.LoopbackHost(o.OAuthAddr))
}

func addrErrText(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// newLogger returns the request logger writing to w in the chosen format.
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(newJSONLogHandler(w))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// run starts the server and serves until ctx is cancelled (SIGINT and
// SIGTERM, through the root command) or the terminal hangs up (SIGHUP).
func run(ctx context.Context, o *Options) error {
	ctx, stopHangup := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stopHangup()
	acct := server.DemoAccount()
	accountSource := "demo account"
	if o.ConfigFile != "" {
		a, err := server.LoadAccountFile(o.ConfigFile)
		if err != nil {
			return fmt.Errorf("reading the account file: %w", err)
		}
		acct, accountSource = a, o.ConfigFile
	}

	logs := newLogWriter(o.IO.ErrOut) // lines wait up to 100 ms: one write for many requests
	defer logs.Close()
	logger := newLogger(logs, o.LogFormat)
	sopts := server.Options{
		Account:      acct,
		AdminToken:   o.AdminToken,
		FakeClock:    o.FakeClock,
		PasswordCost: o.PasswordCost,
		Logger:       logger,
		CheckHost:    o.checkHost(),
		AllowedHosts: o.AllowedHosts,
	}
	if o.DataFile != "" {
		st, err := server.OpenBoltStoreOptions(o.DataFile, server.BoltOptions{CheckpointBytes: o.CheckpointBytes})
		if err != nil {
			return err
		}
		sopts.Store = st
	}
	srv, err := server.New(sopts)
	if err != nil {
		if sopts.Store != nil {
			_ = sopts.Store.Close()
		}
		return err
	}
	defer srv.Close()

	var tlsConf *tls.Config
	var certInfo *certInfo
	if o.TLSCert != "" || o.TLSSelfSigned {
		host, _, _ := net.SplitHostPort(o.Addr)
		var cleanup func()
		tlsConf, certInfo, cleanup, err = setupTLS(o, host)
		if err != nil {
			return err
		}
		defer cleanup()
	}

	var handler, oauthHandler http.Handler = srv, srv.OAuthHandler()
	if o.wrap != nil {
		handler, oauthHandler = o.wrap(handler), o.wrap(oauthHandler)
	}

	ln, err := listen("--addr", o.Addr, tlsConf)
	if err != nil {
		return err
	}
	servers := []*http.Server{newHTTPServer(handler, logger)}
	listeners := []net.Listener{ln}
	if o.OAuthAddr != "" {
		oln, err := listen("--oauth-addr", o.OAuthAddr, tlsConf)
		if err != nil {
			ln.Close()
			return err
		}
		servers = append(servers, newHTTPServer(oauthHandler, logger))
		listeners = append(listeners, oln)
	}

	info := &bannerInfo{
		Version:    build.Version,
		BaseURL:    baseURL(ln.Addr(), o.Addr, tlsConf != nil),
		AdminToken: srv.AdminToken(),
		Account:    acct,
		Source:     accountSource,
		FakeClock:  o.FakeClock,
		DataFile:   o.DataFile,
		Cert:       certInfo,
	}
	info.OAuthURL = info.BaseURL
	if o.OAuthAddr != "" {
		info.OAuthURL = baseURL(listeners[1].Addr(), o.OAuthAddr, tlsConf != nil)
	}
	if _, err := io.WriteString(o.IO.Out, renderBanner(info, o.IO.ColorEnabled())); err != nil {
		for _, l := range listeners {
			l.Close()
		}
		return err
	}

	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func(hs *http.Server, l net.Listener) {
			errc <- hs.Serve(l)
		}(hs, listeners[i])
	}
	if o.LogFormat == "json" {
		// The banner's last line says it for people; a JSON log gets a
		// record for the machines that read it.
		logger.Info("listening", "url", info.BaseURL, "oauth_url", info.OAuthURL)
	}
	if o.started != nil {
		o.started(info)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	timeout := o.ShutdownTimeout
	if timeout == 0 {
		timeout = defaultShutdownTimeout
	}
	logger.Info("shutting down: finishing requests in flight", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	// Both listeners stop accepting at once, then drain in parallel.
	shutErrs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, hs := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Shutdown(sctx); err != nil {
				shutErrs[i] = fmt.Errorf("graceful shutdown: %w", err)
				hs.Close()
			}
		}()
	}
	wg.Wait()
	shutErr := errors.Join(shutErrs...)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", serveErr)
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return shutErr
}

// wsaeaddrinuse is Windows' "address already in use" (WSAEADDRINUSE), which
// is not syscall.EADDRINUSE there.
const wsaeaddrinuse = syscall.Errno(10048)

// listen opens a TCP listener for flag's addr, with TLS on top when conf is
// set.
func listen(flag, addr string, conf *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, wsaeaddrinuse) {
		host, _, _ := net.SplitHostPort(addr)
		return nil, fmt.Errorf("cannot listen on %s: %w: another process uses the port; %s %s picks a free one and prints it", addr, err, flag, net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	return ln, nil
}

// newHTTPServer returns an http.Server with timeouts against slow clients;
// errors of the HTTP machinery itself (bad TLS handshakes...) go to the log.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// baseURL is the URL clients use for the listener: the actual port, and
// 127.0.0.1 (or ::1) when listening on every interface.
func baseURL(actual net.Addr, requested string, https bool) string {
	host, _, _ := net.SplitHostPort(requested)
	_, port, _ := net.SplitHostPort(actual.String())
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
