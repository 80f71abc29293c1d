package cmdutil

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/keystore"
)

// Explain turns an error from package client or keystore into one a person
// can act on: what happened and the command to run next. Authentication
// problems become AuthError (exit 4); everything else keeps exit 1. Errors
// that are already explained pass through unchanged.
func (s *Session) Explain(err error) error {
	if err == nil {
		return nil
	}
	var ae *AuthError
	var fe *FlagError
	if errors.As(err, &ae) || errors.As(err, &fe) {
		return err
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && (apiErr.Code == "invalid_api_key" || apiErr.Code == "invalid_client") && s.APIKeyFromEnv() {
		// The stored key (or a new one) would not help: the environment's wins.
		what := "the API key"
		if apiErr.Code == "invalid_client" {
			what = "the API key (or the device signature)"
		}
		return &AuthError{Err: fmt.Errorf("the server refused %s (%d %s); the key comes from %s, which wins over the stored one: correct it, or unset %s", what, apiErr.StatusCode, apiErr.Code, keystore.EnvAPIKey, keystore.EnvAPIKey)}
	}
	return explain(err, s.Targets(), s.Cmd)
}

// APIKeyFromEnv reports whether the API key in use is PARAGON_API_KEY's.
func (s *Session) APIKeyFromEnv() bool {
	return !s.apiKeyNew && s.f.Env(keystore.EnvAPIKey) != ""
}

// Targets are the profile's URLs with the flags that set them, for
// ConnectionProblem.
func (s *Session) Targets() []Target {
	t := []Target{{Flag: "--server", URL: s.Profile.Server, Stored: !s.flagURLs}}
	if s.Profile.OAuthURL != "" {
		t = append(t, Target{Flag: "--oauth-url", URL: s.Profile.OAuthURL, Stored: !s.flagURLs})
	}
	return t
}

// explain is Session.Explain: targets name the URLs for connection errors,
// cmd builds the hint commands.
func explain(err error, targets []Target, cmd func(string) string) error {
	var apiErr *client.APIError
	switch {
	case errors.Is(err, context.Canceled):
		return &ExitError{Code: ExitInterrupted, Err: errors.New("interrupted")}
	case errors.Is(err, client.ErrLoginRequired):
		return &AuthError{Err: errors.New("your login has expired or was revoked: log in again"), Hint: cmd("login")}
	case errors.Is(err, client.ErrDeviceNotTrusted):
		return &AuthError{Err: errors.New("this device is no longer trusted by the server (its token expired or it was removed): register it again"), Hint: cmd("device register")}
	case errors.Is(err, client.ErrAccessDenied):
		return errors.New("an administrator refused this device; ask them why, then run " + cmd("device register"))
	case errors.Is(err, client.ErrDeviceCodeExpired):
		return &AuthError{Err: errors.New("nobody approved the device in time (its device code expired)"), Hint: cmd("device register")}
	case errors.Is(err, client.ErrDeviceCodeInvalid):
		return &AuthError{Err: errors.New("the server no longer knows this registration (device code invalid or used)"), Hint: cmd("device register")}
	case errors.Is(err, client.ErrInvalidCredentials):
		return errors.New("wrong user name or password (the server refused the credentials); try again")
	case errors.Is(err, client.ErrTooManyAttempts):
		msg := "too many failed logins for this user; wait and try again"
		if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
			msg = fmt.Sprintf("too many failed logins for this user; try again in %s", apiErr.RetryAfter)
		}
		return errors.New(msg)
	case errors.Is(err, client.ErrPersist):
		return fmt.Errorf("the server issued a new token but it could not be saved, so this login is probably lost: %v; run %s", err, cmd("login"))
	case errors.Is(err, keystore.ErrTimeout):
		return fmt.Errorf("the OS keyring did not answer (is it locked?): unlock it and retry, or use --insecure-storage to keep secrets in a file")
	case errors.As(err, &apiErr):
		return explainAPIError(apiErr, cmd)
	}
	if msg, ok := ConnectionProblem(err, targets...); ok {
		return errors.New(msg)
	}
	if msg := err.Error(); strings.HasPrefix(msg, "keystore: ") {
		return &storeError{err, "the secret store failed: " + KeyringCause(msg)}
	}
	return err
}

// storeError is an error of package keystore said without its layers.
type storeError struct {
	err error
	msg string
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() error { return e.err }

func explainAPIError(e *client.APIError, cmd func(string) string) error {
	switch e.Code {
	case "invalid_api_key":
		return &AuthError{Err: fmt.Errorf("the server refused the API key (%d invalid_api_key): it is unknown, inactive, expired or not allowed from this address", e.StatusCode),
			Hint: cmd("login --api-key-stdin")}
	case "invalid_client":
		return &AuthError{Err: fmt.Errorf("the OAuth service refused the API key or the device signature (%d invalid_client)", e.StatusCode), Hint: cmd("device register --api-key-stdin")}
	case "device_token_required", "untrusted_device":
		return &AuthError{Err: fmt.Errorf("the server wants a trusted device for login (%s)", e.Code), Hint: cmd("device register")}
	case "insecure_credentials_not_allowed":
		return errors.New("this API key does not allow logging in with a card ID, short ID, user name only or email: log in with user name and password")
	}
	return &serverAnswer{e}
}

// serverAnswer is an error answer no command explains better: the status,
// code and description, without the "paragon:" of package client's errors
// (the command line adds its own).
type serverAnswer struct{ e *client.APIError }

func (a *serverAnswer) Error() string {
	return "the server answered " + strings.TrimPrefix(a.e.Error(), "paragon: ")
}
func (a *serverAnswer) Unwrap() error { return a.e }

// Target is a URL given to a command and the flag that gives it
// (--server, --oauth-url, --admin-url), for ConnectionProblem.
type Target struct {
	Flag, URL string
	// Stored is true when the URL is a profile's, not given on this
	// command line: the fix is then to change the profile.
	Stored bool
}

// ConnectionProblem recognises an error reaching a server (refused, unknown
// host, timeout, TLS, a scheme the server does not speak) and says what
// happened and what to change, naming the first target (or, for a wrong
// scheme, the target on that host). Every command that takes a server URL
// explains connection errors with it.
func ConnectionProblem(err error, targets ...Target) (string, bool) {
	if len(targets) == 0 {
		targets = []Target{{Flag: "--server"}}
	}
	host, flag := targets[0].URL, targets[0].Flag
	if u, perr := url.Parse(host); perr == nil && u.Host != "" {
		host = u.Host
	}
	var se *SchemeError
	if errors.As(err, &se) {
		t := targets[0]
		for _, c := range targets {
			if u, perr := url.Parse(c.URL); perr == nil && strings.EqualFold(u.Host, se.URL.Host) && u.Scheme != se.URL.Scheme {
				t = c
				break
			}
		}
		fixed := se.URL.String()
		if u, perr := url.Parse(t.URL); perr == nil && u.Host != "" {
			u.Scheme = se.URL.Scheme
			fixed = u.String()
		}
		speaks := "plain HTTP, not HTTPS"
		if se.WantHTTPS {
			speaks = "HTTPS, not plain HTTP"
		}
		if t.Stored {
			return fmt.Sprintf("%s: this server speaks %s: point the profile at %s with paragon login %s %s", se.URL.Host, speaks, fixed, t.Flag, fixed), true
		}
		return fmt.Sprintf("%s: this server speaks %s: use %s %s", se.URL.Host, speaks, t.Flag, fixed), true
	}
	var ce *x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	if errors.As(err, &ce) || errors.As(err, &ua) || errors.As(err, &he) {
		return fmt.Sprintf("cannot verify the TLS certificate of %s: %v (pass --cacert FILE with its CA)", host, err), true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("cannot reach %s: connection refused (is the server running? check %s)", host, flag), true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("cannot reach %s: unknown host (check %s)", host, flag), true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Sprintf("cannot reach %s: timed out", host), true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Sprintf("cannot reach %s: %v", host, opErr.Err), true
	}
	return "", false
}
