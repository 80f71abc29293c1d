package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SignatureHeader carries the base64 Ed25519 signature over the exact form
// body bytes of a request made by a device that registered a key.
const SignatureHeader = "HCP-Request-Signature"

// Client types accepted by POST /oauth/v1/register (client_type).
const (
	ClientTypePrinter         = "printer"
	ClientTypeChromeExtension = "chrome_extension"
	ClientTypeDesktop         = "desktop_client"
	ClientTypeMobile          = "mobile_device"
	ClientTypeServer          = "server"
)

// DefaultPollInterval is the device-token polling interval when the caller
// sets none; slow_down adds 5 s to it for all later polls.
const DefaultPollInterval = 5 * time.Second

// slowDownStep is what every slow_down adds to the polling interval.
const slowDownStep = 5 * time.Second

// maxPollTransient bounds consecutive transient failures (network errors,
// 5xx, 429) tolerated while polling.
const maxPollTransient = 5

// GenerateDeviceKey makes a new Ed25519 key for a device, from crypto/rand.
func GenerateDeviceKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, errorf("generating device key: %v", err)
	}
	return priv, nil
}

// EncodePublicKey returns the protocol's encoding of an Ed25519 public key
// (public_key with key_type=ed25519): standard base64 of the raw 32 bytes.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// PublicKeyString returns [EncodePublicKey] of priv's public half.
func PublicKeyString(priv ed25519.PrivateKey) string {
	return EncodePublicKey(priv.Public().(ed25519.PublicKey))
}

// privateKeyPrefix tags the storage form of a private key.
const privateKeyPrefix = "ed25519:"

// MarshalPrivateKey returns a compact storage form of priv: "ed25519:"
// followed by standard base64 of the 32-byte seed (52 bytes in all, far
// below the 2,500-byte limit of a Windows credential). The string is a
// secret: store it in the keyring, never log it.
func MarshalPrivateKey(priv ed25519.PrivateKey) string {
	return privateKeyPrefix + base64.StdEncoding.EncodeToString(priv.Seed())
}

// UnmarshalPrivateKey parses the output of [MarshalPrivateKey]. It also
// accepts the base64 of a full 64-byte Ed25519 private key. The error never
// contains the input.
func UnmarshalPrivateKey(s string) (ed25519.PrivateKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), privateKeyPrefix))
	if err != nil {
		return nil, errorf("device key: not base64")
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if string(priv) != string(raw) {
			return nil, errorf("device key: public half does not match the seed")
		}
		return priv, nil
	}
	return nil, errorf("device key: %d bytes, want %d", len(raw), ed25519.SeedSize)
}

// SignBody returns the HCP-Request-Signature value for a form body: standard
// base64 of the Ed25519 signature over exactly those bytes.
func SignBody(priv ed25519.PrivateKey, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(priv, body))
}

// NewDeviceID returns a random (version 4) UUID string for use as a
// device's client_id.
func NewDeviceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// RegisterRequest holds every parameter of POST /oauth/v1/register.
type RegisterRequest struct {
	// ClientID is the device's unique id. Empty means a new device: a
	// [NewDeviceID] and, if Key is nil, a new key ([GenerateDeviceKey]).
	ClientID string
	// ClientType is one of the ClientType constants; empty means
	// [ClientTypeDesktop].
	ClientType string
	// Description is shown to the administrator who approves the device.
	Description string
	// State is a nonce the server echoes; if the server echoes a different
	// non-empty value, Register fails.
	State string
	// Key is the device's key. When set, its public half is sent
	// (public_key, key_type=ed25519) and the request is signed with it
	// (HCP-Request-Signature), which makes the registration of an already
	// trusted device a re-registration that needs no new approval. nil
	// with a ClientID registers without a key and unsigned.
	Key ed25519.PrivateKey
	// Store, if set, keeps the device once [Registration.Wait] has its
	// token: its id and key ([DeviceStore.SaveDevice]) and its token,
	// refreshed and saved again by the device's token source. Load it in
	// a later run with [Client.LoadDevice].
	Store DeviceStore
}

// Registration is the answer to a registration. [Registration.Wait] waits
// for the administrator and returns the trusted [Device].
type Registration struct {
	// ClientID is the device's id as registered.
	ClientID string
	// Key is the device's key as registered (nil if none).
	Key ed25519.PrivateKey
	// DeviceCode is exchanged for a device token by [Registration.Wait]
	// (or, by a process that kept it, [Client.PollDeviceToken]). It is a
	// secret.
	DeviceCode string
	// State is the echoed nonce.
	State string
	// ExpiresIn is the device code's lifetime (zero if the server gave none).
	ExpiresIn time.Duration
	// Expiry is when the device code runs out by the client's clock (zero if
	// unknown).
	Expiry time.Time
	// Interval is the polling interval the server asks for (RFC 8628
	// "interval"), zero if it named none; [Registration.Wait] polls at it.
	Interval time.Duration
	// Progress, if set, is told of every poll of [Registration.Wait] that
	// does not end it (for a spinner).
	Progress func(PollEvent)

	c     *Client
	store DeviceStore
}

// Wait polls for the device token until an administrator decides (see
// [Client.PollDeviceToken]: the interval the server asked for, 5 s more for
// good on every slow_down, transient failures retried) and returns the
// trusted device, saved in the request's Store if it had one. Its errors
// are PollDeviceToken's ([ErrAccessDenied], [ErrDeviceCodeExpired], ctx's
// error …) or, with a Store, the store's.
func (r *Registration) Wait(ctx context.Context) (*Device, error) {
	if r.c == nil {
		return nil, errorf("registration: Wait needs a Registration returned by Client.Register")
	}
	tok, err := r.c.PollDeviceToken(ctx, PollRequest{ClientID: r.ClientID, DeviceCode: r.DeviceCode, Key: r.Key,
		Interval: r.Interval, Progress: r.Progress})
	if err != nil {
		return nil, err
	}
	if r.store != nil {
		if err := r.store.SaveDevice(r.ClientID, r.Key); err != nil {
			return nil, errorf("saving the device: %w", err)
		}
		if err := r.store.Save(tok); err != nil {
			return nil, errorf("saving the device token: %w", err)
		}
	}
	return r.c.Device(r.ClientID, r.Key, SourceConfig{Token: tok, Store: storeOrNil(r.store)}), nil
}

// storeOrNil keeps a nil DeviceStore a nil TokenStore.
func storeOrNil(s DeviceStore) TokenStore {
	if s == nil {
		return nil
	}
	return s
}

// Device is a trusted device: its id, its key and the source of its device
// token, which a login needs ([LoginRequest].Device). Get one from
// [Registration.Wait], from storage with [Client.LoadDevice], or from its
// parts with [Client.Device]. It is safe for concurrent use.
type Device struct {
	// ID is the device's id (the OAuth client_id).
	ID string
	// Key is the device's key (nil for a device registered without one).
	// It is a secret.
	Key ed25519.PrivateKey
	src *RefreshingSource
}

// TokenSource returns the device token's source: it renews the token with
// [Client.RefreshDevice] (signed with Key) before it expires, saving every
// rotated token in the store it was given; a dead refresh token yields
// [ErrDeviceNotTrusted].
func (d *Device) TokenSource() *RefreshingSource { return d.src }

// String names the device without its secrets (its key), for %v and %+v.
func (d *Device) String() string { return "device " + d.ID }

// GoString is String, for %#v.
func (d *Device) GoString() string { return d.String() }

// String describes the registration without its secrets (the device code
// and key), for %v and %+v.
func (r *Registration) String() string { return "registration of device " + r.ClientID }

// GoString is String, for %#v.
func (r *Registration) GoString() string { return r.String() }

// DeviceStore keeps a device between runs: its id and key next to its
// token (the embedded [TokenStore]). [FileStore] implements it in a file;
// a service implements it over its own database. The key is a secret:
// [MarshalPrivateKey] gives it a compact storage form.
type DeviceStore interface {
	TokenStore
	// LoadDevice returns the stored id and key; an empty id (and nil
	// error) means no device is stored.
	LoadDevice() (id string, key ed25519.PrivateKey, err error)
	// SaveDevice stores the device's id and key.
	SaveDevice(id string, key ed25519.PrivateKey) error
}

// ErrNoDevice is [Client.LoadDevice]'s error when the store holds no
// trusted device: register one ([Client.Register], [Registration.Wait]).
var ErrNoDevice = errors.New("paragon: no trusted device stored (register one)")

// LoadDevice returns the device kept in store by an earlier
// [Registration.Wait], whose token source goes on saving there. It fails
// with [ErrNoDevice] when store holds no device or no device token.
func (c *Client) LoadDevice(store DeviceStore) (*Device, error) {
	id, key, err := store.LoadDevice()
	if err != nil {
		return nil, errorf("loading the device: %w", err)
	}
	if id == "" {
		return nil, ErrNoDevice
	}
	tok, err := store.Load()
	if err != nil {
		return nil, errorf("loading the device token: %w", err)
	}
	if tok == nil {
		return nil, ErrNoDevice
	}
	return c.Device(id, key, SourceConfig{Token: tok, Store: store}), nil
}

// Device returns the device id with key (nil if it has none) whose token
// source is configured by cfg (its Token, Store …): for a program that
// keeps the parts itself.
func (c *Client) Device(id string, key ed25519.PrivateKey, cfg SourceConfig) *Device {
	return &Device{ID: id, Key: key, src: c.deviceTokenSource(id, key, cfg)}
}

// Register asks the OAuth service to trust a device (section 3.1). A new
// device then waits for an administrator: [Registration.Wait] polls until
// one decides and returns the [Device]. ([Client.PollDeviceToken] is the
// same poll for a registration resumed in another process.)
func (c *Client) Register(ctx context.Context, r RegisterRequest) (*Registration, error) {
	if r.ClientID == "" {
		r.ClientID = NewDeviceID()
		if r.Key == nil {
			var err error
			if r.Key, err = GenerateDeviceKey(); err != nil {
				return nil, err
			}
		}
	}
	typ := r.ClientType
	if typ == "" {
		typ = ClientTypeDesktop
	}
	form := url.Values{
		"client_id":     {r.ClientID},
		"client_secret": {c.apiKey},
		"client_type":   {typ},
		"response_type": {"device_code"},
	}
	if r.Description != "" {
		form.Set("client_description", r.Description)
	}
	if r.State != "" {
		form.Set("state", r.State)
	}
	if r.Key != nil {
		form.Set("public_key", PublicKeyString(r.Key))
		form.Set("key_type", "ed25519")
	}
	body, err := c.postForm(ctx, c.OAuthEndpoint("/oauth/v1/register"), form, r.Key, nil)
	if err != nil {
		return nil, err
	}
	var v struct {
		DeviceCode string          `json:"device_code"`
		State      string          `json:"state"`
		ExpiresIn  json.RawMessage `json:"expires_in"`
		Interval   json.RawMessage `json:"interval"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, errorf("register: decoding answer: %v", err)
	}
	if v.DeviceCode == "" {
		return nil, errorf("register: answer has no device_code")
	}
	if r.State != "" && v.State != "" && v.State != r.State {
		return nil, errorf("register: server echoed a different state")
	}
	reg := &Registration{ClientID: r.ClientID, Key: r.Key, DeviceCode: v.DeviceCode, State: v.State, c: c, store: r.Store}
	if secs, ok := parseSeconds(v.ExpiresIn); ok && secs > 0 {
		reg.ExpiresIn = time.Duration(secs) * time.Second
		reg.Expiry = c.now().Add(reg.ExpiresIn)
	}
	if secs, ok := parseSeconds(v.Interval); ok && secs > 0 {
		reg.Interval = time.Duration(secs) * time.Second
	}
	return reg, nil
}

// PollRequest says which device code to exchange and how to poll.
type PollRequest struct {
	// ClientID is the device's id, as registered. Required.
	ClientID string
	// DeviceCode is [Registration.DeviceCode]. Required.
	DeviceCode string
	// Key signs every poll; it must be the key registered (nil if none was).
	Key ed25519.PrivateKey
	// Interval is the wait between polls; zero means [DefaultPollInterval].
	// Every slow_down adds 5 s to it for all later polls.
	Interval time.Duration
	// Progress, if set, is called after every poll that does not end the
	// exchange (for a spinner), from the polling goroutine.
	Progress func(PollEvent)
}

// PollEvent reports one poll that did not end the exchange.
type PollEvent struct {
	// Attempt counts polls, from 1.
	Attempt int
	// Status is "authorization_pending", "slow_down" or "retry" (a transient
	// failure: network error, 5xx or 429).
	Status string
	// Interval is the wait before the next poll.
	Interval time.Duration
	// Err is the transient error for Status "retry", else nil.
	Err error
}

// PollDeviceToken exchanges a device code for a device token (section 3.3),
// polling until the administrator decides. It waits Interval between polls
// (the first poll is immediate) using [Config.Sleep], keeps going on
// authorization_pending, adds 5 s to the interval for all later polls on
// slow_down, tolerates up to 5 consecutive transient failures, and stops
// with [ErrAccessDenied], [ErrDeviceCodeExpired] or [ErrDeviceCodeInvalid]
// (each wrapping the *APIError), any other *APIError, or ctx's error.
func (c *Client) PollDeviceToken(ctx context.Context, p PollRequest) (*Token, error) {
	if p.ClientID == "" || p.DeviceCode == "" {
		return nil, errorf("poll: ClientID and DeviceCode are required")
	}
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	form := url.Values{
		"client_id":     {p.ClientID},
		"client_secret": {c.apiKey},
		"grant_type":    {"device_code"},
		"device_code":   {p.DeviceCode},
	}
	endpoint := c.OAuthEndpoint("/oauth/v1/token")
	transient := 0
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		body, err := c.postForm(ctx, endpoint, form, p.Key, nil)
		if err == nil {
			return parseToken(body, c.now())
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		ev := PollEvent{Attempt: attempt}
		var ae *APIError
		switch {
		case errors.As(err, &ae) && ae.Code == "authorization_pending":
			transient = 0
			ev.Status = ae.Code
		case errors.As(err, &ae) && ae.Code == "slow_down":
			transient = 0
			interval += slowDownStep
			ev.Status = ae.Code
		case errors.As(err, &ae) && ae.Code == "access_denied":
			return nil, wrap(ErrAccessDenied, err)
		case errors.As(err, &ae) && ae.Code == "expired_token":
			return nil, wrap(ErrDeviceCodeExpired, err)
		case errors.As(err, &ae) && ae.Code == "invalid_grant":
			return nil, wrap(ErrDeviceCodeInvalid, err)
		case isTransient(err):
			transient++
			if transient > maxPollTransient {
				return nil, err
			}
			ev.Status, ev.Err = "retry", err
		default:
			return nil, err
		}
		wait := interval
		if ae != nil && ae.RetryAfter > wait {
			wait = ae.RetryAfter
		}
		ev.Interval = wait
		if p.Progress != nil {
			p.Progress(ev)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// isTransient reports whether a poll failure is worth retrying: a network
// error, a 5xx or a 429 answer.
func isTransient(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 500 || ae.StatusCode == http.StatusTooManyRequests
	}
	// A certificate problem will not go away by waiting.
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) {
		return false
	}
	var ne net.Error // includes *url.Error and *net.OpError: refused, reset, timeout
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}

// RefreshDevice renews a device token (section 3.4, client_id = the device's
// id), signing the request with key when key is non-nil. The answer's new
// refresh token replaces refreshToken (kept if the server sends none). An
// invalid_grant answer (expired, revoked or reused refresh token, device no
// longer trusted) is returned as [ErrDeviceNotTrusted].
func (c *Client) RefreshDevice(ctx context.Context, clientID string, key ed25519.PrivateKey, refreshToken string) (*Token, error) {
	if clientID == "" || clientID == "api" {
		return nil, errorf("refresh device: a device id is required")
	}
	return c.refresh(ctx, clientID, key, refreshToken, ErrDeviceNotTrusted)
}

// RefreshUser renews a user token (section 3.4, client_id=api). The answer's
// new refresh token replaces refreshToken (kept if the server sends none).
// An invalid_grant answer (expired, revoked or reused refresh token) is
// returned as [ErrLoginRequired].
func (c *Client) RefreshUser(ctx context.Context, refreshToken string) (*Token, error) {
	return c.refresh(ctx, "api", nil, refreshToken, ErrLoginRequired)
}

func (c *Client) refresh(ctx context.Context, clientID string, key ed25519.PrivateKey, refreshToken string, dead error) (*Token, error) {
	if refreshToken == "" {
		return nil, wrap(dead, errorf("no refresh token"))
	}
	form := url.Values{
		"client_id":     {clientID},
		"client_secret": {c.apiKey},
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	body, err := c.postForm(ctx, c.OAuthEndpoint("/oauth/v1/token"), form, key, nil)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "invalid_grant" {
			return nil, wrap(dead, err)
		}
		return nil, err
	}
	t, err := parseToken(body, c.now())
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}
