package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APIError is an error answer from a Paragon server: the HTTP status and the
// JSON body's "error" and "error_description". It never contains a secret:
// only the server's code and description are kept, never the request.
//
// Errors returned by this package wrap an *APIError (use [errors.As]) and,
// where the outcome calls for a specific action, also a sentinel such as
// [ErrLoginRequired] (use [errors.Is]).
type APIError struct {
	// StatusCode is the HTTP status code of the answer.
	StatusCode int
	// Code is the protocol error code ("invalid_grant", "invalid_token", ...),
	// empty when the body was not a JSON error object.
	Code string
	// Description is the server's error_description, possibly empty.
	Description string
	// RetryAfter is the server's Retry-After (seconds or HTTP date), zero if
	// absent.
	RetryAfter time.Duration
}

// Error reports the status, code and description.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("paragon: ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	return b.String()
}

// Is makes context-free error codes match their sentinels:
// invalid_credentials matches [ErrInvalidCredentials] and too_many_attempts
// (or any 429) matches [ErrTooManyAttempts].
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalidCredentials:
		return e.Code == "invalid_credentials"
	case ErrTooManyAttempts:
		return e.Code == "too_many_attempts" || e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

var (
	// ErrLoginRequired means the user must log in again: the user's refresh
	// token expired, was revoked or was reused (the server answered
	// invalid_grant to a refresh with client_id=api), or there is no refresh
	// token to renew an expired access token with.
	ErrLoginRequired = errors.New("paragon: login required (log in again)")

	// ErrDeviceNotTrusted means the device must be registered (trusted)
	// again: its device refresh token expired or was revoked (invalid_grant
	// to a refresh with the device's client_id), or the server refused its
	// device token at login (untrusted_device, device_token_required).
	ErrDeviceNotTrusted = errors.New("paragon: device not trusted (register the device again)")

	// ErrAccessDenied means an administrator refused the device while it was
	// waiting for approval (access_denied while polling).
	ErrAccessDenied = errors.New("paragon: device registration refused by an administrator")

	// ErrDeviceCodeExpired means the device code ran out before the device
	// was approved (expired_token while polling); register again.
	ErrDeviceCodeExpired = errors.New("paragon: device code expired (register again)")

	// ErrDeviceCodeInvalid means the device code is unknown, belongs to
	// another device or was already exchanged (invalid_grant while polling).
	ErrDeviceCodeInvalid = errors.New("paragon: device code invalid or already used")

	// ErrInvalidCredentials means the login credentials were wrong
	// (invalid_credentials).
	ErrInvalidCredentials = errors.New("paragon: invalid credentials")

	// ErrTooManyAttempts means the server throttles this user's logins; the
	// wrapped *APIError's RetryAfter says for how long.
	ErrTooManyAttempts = errors.New("paragon: too many attempts")

	// ErrPersist means a rotated token was received but the TokenStore's
	// Save failed to save it. The new token is kept in memory (and saving is
	// retried on the next call), but if the process ends now the stored
	// refresh token is already spent. Save's error is wrapped too.
	ErrPersist = errors.New("paragon: saving the rotated token failed")
)

// wrap returns err annotated with sentinel, matching both with errors.Is and
// errors.As.
func wrap(sentinel, err error) error {
	return &wrapped{sentinel: sentinel, err: err}
}

type wrapped struct {
	sentinel error
	err      error
}

func (w *wrapped) Error() string   { return w.sentinel.Error() + ": " + w.err.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.sentinel, w.err} }

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// newAPIError builds an *APIError from a non-2xx answer and its body.
func newAPIError(resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{StatusCode: resp.StatusCode}
	var v struct {
		Error            any    `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &v) == nil {
		switch c := v.Error.(type) {
		case string:
			e.Code = c
		case map[string]any: // {"error": {"code": ..., "message": ...}} style
			if s, ok := c["code"].(string); ok {
				e.Code = s
			}
			if s, ok := c["message"].(string); ok && v.ErrorDescription == "" {
				v.ErrorDescription = s
			}
		}
		e.Description = v.ErrorDescription
	}
	if e.Code == "" {
		e.Code = bearerErrorCode(resp.Header.Get("WWW-Authenticate"))
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

// bearerErrorCode extracts error="..." from a WWW-Authenticate header.
func bearerErrorCode(h string) string {
	i := strings.Index(h, `error="`)
	if i < 0 {
		return ""
	}
	rest := h[i+len(`error="`):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// errorf builds a plain error of this package; callers pass no secrets.
func errorf(format string, args ...any) error {
	return fmt.Errorf("paragon: "+format, args...)
}
