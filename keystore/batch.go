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

// BatchGetter is implemented by stores that read several items of one
// profile in one operation (Keyring: one Secret Service round instead of
// one per item; File: one read of the file).
type BatchGetter interface {
	// GetItems returns the values of those of items the profile has;
	// absent items are left out of the map.
	GetItems(profile string, items []string) (map[string]string, error)
}

// GetItems reads items of one profile: in one operation when s is a
// BatchGetter, otherwise one Get per item. Absent items are left out of the
// map (no error); any other failure is an error.
func GetItems(s Store, profile string, items ...string) (map[string]string, error) {
	if err := checkItems(profile, items); err != nil {
		return nil, err
	}
	if b, ok := s.(BatchGetter); ok {
		return b.GetItems(profile, items)
	}
	return getEach(s, profile, items)
}

// checkItems validates a profile and item names.
func checkItems(profile string, items []string) error {
	for _, it := range items {
		if err := checkKey(profile, it); err != nil {
			return err
		}
	}
	return checkName("profile", profile)
}

// getEach is GetItems one Get at a time.
func getEach(s Store, profile string, items []string) (map[string]string, error) {
	vals := make(map[string]string, len(items))
	for _, it := range items {
		v, err := s.Get(profile, it)
		switch {
		case err == nil:
			vals[it] = v
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	return vals, nil
}

// TokenKind says whose tokens: the user's or the device's.
type TokenKind int

const (
	// UserTokens are the user token and its refresh token (client_id=api).
	UserTokens TokenKind = iota
	// DeviceTokens are the device token and its refresh token.
	DeviceTokens
)

// Items returns the access- and refresh-token item names of k.
func (k TokenKind) Items() (access, refresh string) {
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

// LoadTokens reads the tokens of kind k, both items in one GetItems. A
// missing access token or refresh token leaves that field empty; only when
// both are missing is the error ErrNotFound.
func LoadTokens(s Store, profile string, k TokenKind) (Tokens, error) {
	vals, err := GetItems(s, profile, k.TokenItems()...)
	if err != nil {
		return Tokens{}, err
	}
	return TokensFrom(vals, profile, k)
}

// TokenItems returns the item names of k's tokens, for GetItems.
func (k TokenKind) TokenItems() []string {
	access, refresh := k.Items()
	return []string{access, refresh}
}

// TokensFrom decodes the tokens of kind k from what GetItems returned (for a
// caller that read them together with other items). It fails like
// LoadTokens.
func TokensFrom(vals map[string]string, profile string, k TokenKind) (Tokens, error) {
	accessItem, refreshItem := k.Items()
	var t Tokens
	v, hasAccess := vals[accessItem]
	if hasAccess {
		at, err := DecodeAccessToken(v)
		if err != nil {
			return Tokens{}, fmt.Errorf("%w (%s of profile %s)", err, accessItem, profile)
		}
		t.AccessToken, t.Expiry = at.Token, at.Expiry
	}
	rt, hasRefresh := vals[refreshItem]
	t.RefreshToken = rt
	if !hasAccess && !hasRefresh {
		return Tokens{}, fmt.Errorf("keystore: no %s tokens for profile %s: %w", k, profile, ErrNotFound)
	}
	return t, nil
}

// SaveTokens stores the tokens of kind k: in one atomic write on a File
// store; elsewhere the refresh token first, since a lost rotated refresh
// token logs the user out while a lost access token only costs a refresh.
// An empty RefreshToken leaves the stored one alone.
func SaveTokens(s Store, profile string, k TokenKind, t Tokens) error {
	accessItem, refreshItem := k.Items()
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
