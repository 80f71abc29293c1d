package client

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// DefaultExpirySkew is how long before its expiry a token is already treated
// as expired, so that it does not run out in flight or on a server whose
// clock is ahead.
const DefaultExpirySkew = 60 * time.Second

// Token is an OAuth token pair as the Paragon OAuth service and login hand
// it out: a user token or a device token. The JSON form (used by stores) is
// {"access_token", "refresh_token", "token_type", "expiry"}.
//
// A Token is a value: once returned by this package it is never modified, so
// it may be shared between goroutines.
type Token struct {
	// AccessToken authorizes requests (Authorization: Bearer).
	AccessToken string `json:"access_token"`
	// RefreshToken obtains a new pair; the server may rotate it on every
	// refresh, so the latest one must always be saved.
	RefreshToken string `json:"refresh_token,omitempty"`
	// TokenType is "Bearer" (the only type the protocol uses).
	TokenType string `json:"token_type,omitempty"`
	// Expiry is when AccessToken expires, computed from expires_in with the
	// client's clock. Zero means the server gave no lifetime: the token is
	// used until the server rejects it.
	Expiry time.Time `json:"expiry,omitzero"`
}

// Valid reports whether t is non-nil, has an access token and does not
// expire within skew of now. A zero Expiry never expires.
func (t *Token) Valid(now time.Time, skew time.Duration) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	if t.Expiry.IsZero() {
		return true
	}
	return now.Add(skew).Before(t.Expiry)
}

// Type returns the authorization scheme for t: "Bearer" when TokenType is
// empty or any spelling of bearer (servers often answer "bearer", and some
// compare the scheme case-sensitively), else TokenType.
func (t *Token) Type() string {
	if t == nil || t.TokenType == "" || strings.EqualFold(t.TokenType, "bearer") {
		return "Bearer"
	}
	return t.TokenType
}

// String describes t without its secrets, so that printing a Token with
// %v or %+v never leaks it.
func (t *Token) String() string {
	if t == nil {
		return "<nil token>"
	}
	desc := t.Type() + " token"
	if t.AccessToken == "" {
		desc = "empty token"
	}
	if t.RefreshToken != "" {
		desc += " with refresh token"
	}
	if !t.Expiry.IsZero() {
		desc += ", expires " + t.Expiry.UTC().Format(time.RFC3339)
	}
	return desc
}

// GoString is String, for %#v.
func (t *Token) GoString() string { return t.String() }

// LogValue makes slog log t without its secrets.
func (t *Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// wireToken is the protocol's Token object. expires_in is accepted as a
// number or a numeric string.
type wireToken struct {
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
}

// parseToken decodes a Token answer, bare or wrapped in {"token": {...}}
// (login wraps it; a server may wrap OAuth answers too).
func parseToken(body []byte, now time.Time) (*Token, error) {
	var outer struct {
		Token *wireToken `json:"token"`
		wireToken
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		return nil, errorf("decoding token answer: %v", err)
	}
	w := outer.wireToken
	if outer.Token != nil && outer.Token.AccessToken != "" {
		w = *outer.Token
	}
	if w.AccessToken == "" {
		return nil, errorf("token answer has no access_token")
	}
	t := &Token{AccessToken: w.AccessToken, RefreshToken: w.RefreshToken, TokenType: w.TokenType}
	if secs, ok := parseSeconds(w.ExpiresIn); ok && secs > 0 {
		t.Expiry = now.Add(time.Duration(secs) * time.Second)
	}
	return t, nil
}

// parseSeconds reads a JSON number or numeric string.
func parseSeconds(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		n = json.Number(s)
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	if f, err := strconv.ParseFloat(string(n), 64); err == nil {
		return int64(f), true
	}
	return 0, false
}
