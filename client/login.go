package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// AuthType is the login's authtype: which credential UserID holds.
type AuthType int

// Login kinds (authtype). Only AuthPassword is public; the others are the
// project's numbering [ours] and are accepted by the server only when the API
// key allows unauthenticated requests or, for card and short IDs, when the
// login carries a trusted device token.
const (
	AuthPassword AuthType = 0 // user name + password
	AuthCardID   AuthType = 1 // card ID in UserID
	AuthShortID  AuthType = 2 // short ID (PIN-like) in UserID
	AuthUsername AuthType = 3 // user name only
	AuthEmail    AuthType = 4 // email address in UserID
)

// LoginRequest holds the parameters of /api/v1/login (section 4).
type LoginRequest struct {
	// AuthType says what UserID is; the zero value is AuthPassword.
	AuthType AuthType
	// UserID is the user name, card ID, short ID or email address.
	UserID string
	// Password is sent for AuthPassword (and, if non-empty, for any type).
	Password string
	// Device is the trusted device whose token the login carries
	// (Authorization: Bearer), renewed first if it expired.
	Device *Device
	// DeviceToken supplies the device token instead of Device, e.g.
	// [StaticTokenSource] for a bare token string. Device or DeviceToken
	// is required unless Untrusted.
	DeviceToken TokenSource
	// Untrusted logs in without a device token (the API key allows
	// untrusted endpoints).
	Untrusted bool
	// UseGET sends the fields in the query string of a GET, as the real
	// service also accepts. POST with a form body is the default.
	UseGET bool
	// Store, if set, keeps the user's token: [Client.Login] saves it there
	// and the session's source saves every refreshed token there, so that
	// a later run resumes with [Client.UserSession](Store). nil keeps the
	// token in memory only.
	Store TokenStore
}

// Login logs a user in (see [Client.LoginToken] for the request and its
// errors), saves the user token in r.Store if set, and returns the
// [Session] that makes the user's API calls: its [Session.HTTPClient] is
// the authorized *http.Client, refreshing (and saving) the token as it
// expires.
func (c *Client) Login(ctx context.Context, r LoginRequest) (*Session, error) {
	tok, err := c.LoginToken(ctx, r)
	if err != nil {
		return nil, err
	}
	if r.Store != nil {
		if err := r.Store.Save(tok); err != nil {
			return nil, wrap(ErrPersist, err)
		}
	}
	return c.Session(c.UserTokenSource(SourceConfig{Token: tok, Store: r.Store})), nil
}

// UserSession returns the session of the user whose token store keeps
// (saved by an earlier [Client.Login] with that Store): the token is
// loaded on first use and refreshed and saved as it expires. A store
// without a token makes calls fail with [ErrLoginRequired].
func (c *Client) UserSession(store TokenStore) *Session {
	return c.Session(c.UserTokenSource(SourceConfig{Store: store}))
}

// LoginToken logs a user in and returns the bare user token pair, for a
// caller that keeps tokens itself; most want [Client.Login]. Errors:
// [ErrInvalidCredentials] (401), [ErrTooManyAttempts] (429, see
// APIError.RetryAfter), [ErrDeviceNotTrusted] (403 untrusted_device or
// device_token_required, or the device token could not be refreshed), or an
// *APIError. When the device token is refused and DeviceToken can be forced
// to refresh ([Refresher]), Login refreshes it once and tries once more; if
// that refresh finds the device no longer trusted, the error holds both
// answers, the login's first (errors.As yields the server's 403
// untrusted_device, then the refresh's invalid_grant).
func (c *Client) LoginToken(ctx context.Context, r LoginRequest) (*Token, error) {
	if r.UserID == "" {
		return nil, errorf("login: UserID is required")
	}
	if r.DeviceToken == nil && r.Device != nil {
		r.DeviceToken = r.Device.TokenSource()
	}
	if !r.Untrusted && r.DeviceToken == nil {
		return nil, errorf("login: a Device (or DeviceToken) is required unless Untrusted")
	}
	form := url.Values{
		"authtype": {strconv.Itoa(int(r.AuthType))},
		"userid":   {r.UserID},
	}
	if r.Password != "" || r.AuthType == AuthPassword {
		form.Set("password", r.Password)
	}
	var dev *Token
	if !r.Untrusted {
		var err error
		if dev, err = r.DeviceToken.Token(ctx); err != nil {
			return nil, err
		}
	}
	tok, err := c.login(ctx, form, dev, r.UseGET)
	if err != nil && dev != nil && errors.Is(err, ErrDeviceNotTrusted) {
		if rf, ok := r.DeviceToken.(Refresher); ok {
			fresh, ferr := rf.ForceRefresh(ctx, dev)
			if ferr != nil && errors.Is(ferr, ErrDeviceNotTrusted) {
				// The server's answer first, so that errors.As finds its
				// 403 untrusted_device before the refresh's invalid_grant.
				return nil, fmt.Errorf("%w; renewing the device token failed too: %w", err, ferr)
			}
			if ferr != nil {
				return nil, ferr
			}
			tok, err = c.login(ctx, form, fresh, r.UseGET)
		}
	}
	return tok, err
}

func (c *Client) login(ctx context.Context, form url.Values, dev *Token, useGET bool) (*Token, error) {
	var req *http.Request
	var err error
	if useGET {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.APIURL("/api/v1/login")+"?"+form.Encode(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.APIURL("/api/v1/login"), bytes.NewReader([]byte(form.Encode())))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, scrubURLError(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Api-Key", c.apiKey)
	if dev != nil {
		req.Header.Set("Authorization", dev.Type()+" "+dev.AccessToken)
	}
	body, err := c.send(req)
	if err != nil {
		err = maskEcho(err, form)
		var ae *APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden &&
			(ae.Code == "untrusted_device" || ae.Code == "device_token_required") {
			return nil, wrap(ErrDeviceNotTrusted, err)
		}
		return nil, err
	}
	return parseToken(body, c.now())
}
