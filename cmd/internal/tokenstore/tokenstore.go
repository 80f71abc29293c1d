// Package tokenstore backs the client library's client.TokenStore with a
// keystore.Store and keystore's per-profile file lock, so that the CLI's
// tokens live in the OS keyring (or the file store) and parallel paragon
// processes refresh once without spending each other's rotated refresh
// tokens.
//
//	ts := tokenstore.Store{Keys: store, Profile: "default", Kind: keystore.UserTokens}
//	tok, err := ts.Load() // the stored token, nil if none
//	src := c.UserTokenSource(client.SourceConfig{Token: tok, Store: ts})
//
// It lives with the CLI so that neither keystore nor client depends on the
// other.
package tokenstore

import (
	"context"
	"crypto/ed25519"
	"errors"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/keystore"
)

// Store keeps the tokens of one kind (user or device) of one profile in a
// keystore.Store; it implements client.TokenStore, and with Kind
// keystore.DeviceTokens client.DeviceStore (the device's id and key live in
// the profile's ItemDeviceID and ItemDevicePrivateKey). A Store value is
// safe for concurrent use if its keystore.Store is.
type Store struct {
	Keys    keystore.Store
	Profile string
	Kind    keystore.TokenKind
	// LockDir is where <profile>.lock lives; "" means keystore.DefaultDir().
	LockDir string
	// LockFunc, if set, replaces keystore.LockDir (e.g. a CLI factory's
	// injectable lock); it has keystore.Lock's signature.
	LockFunc func(ctx context.Context, profile string) (unlock func() error, err error)
}

var _ client.DeviceStore = Store{}

// Lock takes the cross-process refresh lock of the profile, honouring ctx.
func (s Store) Lock(ctx context.Context) (unlock func(), err error) {
	var u func() error
	switch {
	case s.LockFunc != nil:
		u, err = s.LockFunc(ctx, s.Profile)
	case s.LockDir == "":
		u, err = keystore.Lock(ctx, s.Profile)
	default:
		u, err = keystore.LockDir(ctx, s.LockDir, s.Profile)
	}
	if err != nil {
		return nil, err
	}
	// Closing the descriptor releases the lock even if unlocking reports an
	// error, so there is nothing useful to do with one here.
	return func() { _ = u() }, nil
}

// Load reads the stored token; (nil, nil) when nothing is stored. A stored
// refresh token without an access token loads as a token that needs a
// refresh.
func (s Store) Load() (*client.Token, error) {
	vals, err := keystore.GetItems(s.Keys, s.Profile, s.Kind.TokenItems()...)
	if err != nil {
		return nil, err
	}
	return FromItems(vals, s.Profile, s.Kind)
}

// FromItems decodes the tokens of kind from what keystore.GetItems read
// (with other items, for one keyring operation), as Load does.
func FromItems(vals map[string]string, profile string, kind keystore.TokenKind) (*client.Token, error) {
	t, err := keystore.TokensFrom(vals, profile, kind)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &client.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.Expiry, TokenType: "Bearer"}, nil
}

// Save stores a newly obtained token: refresh token, access token and
// expiry, in one atomic write on a file store, refresh token first
// elsewhere.
func (s Store) Save(t *client.Token) error {
	if t == nil {
		return errors.New("tokenstore: nil token")
	}
	return keystore.SaveTokens(s.Keys, s.Profile, s.Kind,
		keystore.Tokens{AccessToken: t.AccessToken, Expiry: t.Expiry, RefreshToken: t.RefreshToken})
}

// LoadDevice returns the profile's device id and key ("" when no device is
// stored).
func (s Store) LoadDevice() (string, ed25519.PrivateKey, error) {
	vals, err := keystore.GetItems(s.Keys, s.Profile, keystore.ItemDeviceID, keystore.ItemDevicePrivateKey)
	if err != nil || vals[keystore.ItemDeviceID] == "" {
		return "", nil, err
	}
	if vals[keystore.ItemDevicePrivateKey] == "" {
		return vals[keystore.ItemDeviceID], nil, nil
	}
	key, err := client.UnmarshalPrivateKey(vals[keystore.ItemDevicePrivateKey])
	if err != nil {
		return "", nil, err
	}
	return vals[keystore.ItemDeviceID], key, nil
}

// SaveDevice stores the device's id and key (in one write on a file
// store).
func (s Store) SaveDevice(id string, key ed25519.PrivateKey) error {
	return keystore.SetItems(s.Keys, s.Profile, []keystore.Entry{
		{Item: keystore.ItemDeviceID, Value: id},
		{Item: keystore.ItemDevicePrivateKey, Value: client.MarshalPrivateKey(key)},
	})
}
