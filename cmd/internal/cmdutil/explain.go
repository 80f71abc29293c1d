package cmdutil

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
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
	return Explain(err, s.Profile.Server, s.Cmd)
}

// Explain is Session.Explain for callers without a session: server names the
// host for connection errors, cmd builds the hint commands.
func Explain(err error, server string, cmd func(string) string) error {
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
	if msg, ok := connectionProblem(err, server); ok {
		return errors.New(msg)
	}
	return err
}

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
	return e
}

// connectionProblem recognises errors reaching the server and names it.
func connectionProblem(err error, server string) (string, bool) {
	host := server
	if u, perr := url.Parse(server); perr == nil && u.Host != "" {
		host = u.Host
	}
	var ce *x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	if errors.As(err, &ce) || errors.As(err, &ua) || errors.As(err, &he) {
		return fmt.Sprintf("cannot verify the TLS certificate of %s: %v (pass --cacert FILE with its CA)", host, err), true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("cannot reach %s: connection refused (is the server running? check --server)", host), true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("cannot reach %s: unknown host (check --server)", host), true
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
