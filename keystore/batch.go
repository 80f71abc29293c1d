package keystore

import (
	"errors"
	"fmt"
	"time"
)

// Entry is one item and its value, for SetItems.
type Entry struct {
	Item  string
	Value string
}

// Batcher is implemented by stores that can write several items of one
// profile at once, all or nothing (File, Memory).
type Batcher interface {
	SetItems(profile string, entries []Entry) error
}

// SetItems stores entries of one profile: in one atomic write when s is a
// Batcher, otherwise one by one in the given order, stopping at the first
// error (put the item that must not be lost first). Sizes are checked for
// all entries before anything is written.
func SetItems(s Store, profile string, entries []Entry) error {
	for _, e := range entries {
		if err := checkSet(profile, e.Item, e.Value); err != nil {
			return err
		}
	}
	if b, ok := s.(Batcher); ok {
		return b.SetItems(profile, entries)
	}
	for _, e := range entries {
		if err := s.Set(profile, e.Item, e.Value); err != nil {
			return err
		}
	}
	return nil
}

// TokenKind says whose tokens: the user's or the device's.
type TokenKind int

const (
	// UserTokens are the user token and its refresh token (client_id=api).
	UserTokens TokenKind = iota
	// DeviceTokens are the device token and its refresh token.
	DeviceTokens
)

// items returns the access- and refresh-token item names of k.
func (k TokenKind) items() (access, refresh string) {
	if k == DeviceTokens {
		return ItemDeviceAccessToken, ItemDeviceRefreshToken
	}
	return ItemUserAccessToken, ItemUserRefreshToken
}

// String returns "user" or "device".
func (k TokenKind) String() string {
	if k == DeviceTokens {
		return "device"
	}
	return "user"
}

// Tokens is what a token source keeps: the current access token with its
// expiry and the refresh token.
type Tokens struct {
	AccessToken  string
	Expiry       time.Time
	RefreshToken string
}

// LoadTokens reads the tokens of kind k. A missing access token or refresh
// token leaves that field empty; only when both are missing is the error
// ErrNotFound.
func LoadTokens(s Store, profile string, k TokenKind) (Tokens, error) {
	accessItem, refreshItem := k.items()
	var t Tokens
	found := false
	at, err := GetAccessToken(s, profile, accessItem)
	switch {
	case err == nil:
		t.AccessToken, t.Expiry, found = at.Token, at.Expiry, true
	case !errors.Is(err, ErrNotFound):
		return Tokens{}, err
	}
	rt, err := s.Get(profile, refreshItem)
	switch {
	case err == nil:
		t.RefreshToken, found = rt, true
	case !errors.Is(err, ErrNotFound):
		return Tokens{}, err
	}
	if !found {
		return Tokens{}, fmt.Errorf("keystore: no %s tokens for profile %s: %w", k, profile, ErrNotFound)
	}
	return t, nil
}

// SaveTokens stores the tokens of kind k: in one atomic write on a File
// store; elsewhere the refresh token first, since a lost rotated refresh
// token logs the user out while a lost access token only costs a refresh.
// An empty RefreshToken leaves the stored one alone.
func SaveTokens(s Store, profile string, k TokenKind, t Tokens) error {
	accessItem, refreshItem := k.items()
	var entries []Entry
	if t.RefreshToken != "" {
		entries = append(entries, Entry{refreshItem, t.RefreshToken})
	}
	if t.AccessToken != "" {
		v, err := EncodeAccessToken(AccessToken{Token: t.AccessToken, Expiry: t.Expiry})
		if err != nil {
			return err
		}
		entries = append(entries, Entry{accessItem, v})
	}
	if len(entries) == 0 {
		return errors.New("keystore: SaveTokens: nothing to save")
	}
	return SetItems(s, profile, entries)
}
