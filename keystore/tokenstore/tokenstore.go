// Package tokenstore connects a keystore.Store to the client library's
// refreshing token source: it supplies the Lock, Load and Persist hooks of
// client.SourceConfig, so that the tokens live in the keystore and parallel
// processes refresh once (under keystore's per-profile file lock) without
// spending each other's rotated refresh tokens.
//
//	h := tokenstore.Hooks{Store: store, Profile: "default", Kind: keystore.UserTokens}
//	cfg, err := h.Config() // Token, Lock, Load, Persist filled in
//	src := c.UserTokenSource(cfg)
//
// It is a separate package so that neither keystore nor client depends on
// the other.
package tokenstore

import (
	"context"
	"errors"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/keystore"
)

// Hooks keeps the tokens of one kind (user or device) of one profile in a
// Store. A Hooks value is
// safe for concurrent use if its Store is.
type Hooks struct {
	Store   keystore.Store
	Profile string
	Kind    keystore.TokenKind
	// LockDir is where <profile>.lock lives; "" means keystore.DefaultDir().
	LockDir string
	// LockFunc, if set, replaces keystore.LockDir (e.g. a CLI factory's
	// injectable lock); it has keystore.Lock's signature.
	LockFunc func(ctx context.Context, profile string) (unlock func() error, err error)
}

// Lock takes the cross-process refresh lock of the profile, honouring ctx
// (client.SourceConfig.Lock).
func (h Hooks) Lock(ctx context.Context) (unlock func(), err error) {
	var u func() error
	switch {
	case h.LockFunc != nil:
		u, err = h.LockFunc(ctx, h.Profile)
	case h.LockDir == "":
		u, err = keystore.Lock(ctx, h.Profile)
	default:
		u, err = keystore.LockDir(ctx, h.LockDir, h.Profile)
	}
	if err != nil {
		return nil, err
	}
	// Closing the descriptor releases the lock even if unlocking reports an
	// error, so there is nothing useful to do with one here.
	return func() { _ = u() }, nil
}

// Load reads the stored token (client.SourceConfig.Load); (nil, nil) when
// nothing is stored. A stored refresh token without an access token loads
// as a token that needs a refresh.
func (h Hooks) Load() (*client.Token, error) {
	t, err := keystore.LoadTokens(h.Store, h.Profile, h.Kind)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &client.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.Expiry, TokenType: "Bearer"}, nil
}

// Persist stores a newly obtained token (client.SourceConfig.Persist):
// refresh token, access token and expiry, in one atomic write on a file
// store, refresh token first elsewhere.
func (h Hooks) Persist(t *client.Token) error {
	if t == nil {
		return errors.New("tokenstore: nil token")
	}
	return keystore.SaveTokens(h.Store, h.Profile, h.Kind,
		keystore.Tokens{AccessToken: t.AccessToken, Expiry: t.Expiry, RefreshToken: t.RefreshToken})
}

// Wire sets cfg's Lock, Load and Persist hooks to h's.
func (h Hooks) Wire(cfg *client.SourceConfig) {
	cfg.Lock, cfg.Load, cfg.Persist = h.Lock, h.Load, h.Persist
}

// Config returns a client.SourceConfig with the stored token as its initial
// Token (nil if none) and h's hooks wired in; set Refresh, Skew or Now on
// it as needed, or pass it to client.Client.UserTokenSource or
// DeviceTokenSource.
func (h Hooks) Config() (client.SourceConfig, error) {
	tok, err := h.Load()
	if err != nil {
		return client.SourceConfig{}, err
	}
	cfg := client.SourceConfig{Token: tok}
	h.Wire(&cfg)
	return cfg, nil
}
