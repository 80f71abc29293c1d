package keystore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// AccessToken is an access token with its expiry, as stored under
// ItemUserAccessToken and ItemDeviceAccessToken so that a new process can use
// it without a refresh. A zero Expiry means "no known expiry" (a token from
// PARAGON_TOKEN): use it until the server refuses it.
type AccessToken struct {
	Token  string    `json:"access_token"`
	Expiry time.Time `json:"expiry,omitzero"`
}

// EncodeAccessToken renders t as the JSON stored in the keystore.
func EncodeAccessToken(t AccessToken) (string, error) {
	if t.Token == "" {
		return "", errors.New("keystore: empty access token")
	}
	b, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("keystore: encoding access token: %w", err)
	}
	return string(b), nil
}

// DecodeAccessToken parses what EncodeAccessToken wrote. The error never
// quotes the input.
func DecodeAccessToken(s string) (AccessToken, error) {
	var t AccessToken
	if err := json.Unmarshal([]byte(s), &t); err != nil || t.Token == "" {
		return AccessToken{}, errors.New("keystore: stored access token is not valid JSON {\"access_token\",\"expiry\"}")
	}
	return t, nil
}

// GetAccessToken reads and decodes an access-token item.
func GetAccessToken(s Store, profile, item string) (AccessToken, error) {
	v, err := s.Get(profile, item)
	if err != nil {
		return AccessToken{}, err
	}
	t, err := DecodeAccessToken(v)
	if err != nil {
		return AccessToken{}, fmt.Errorf("%w (%s of profile %s)", err, item, profile)
	}
	return t, nil
}

// SetAccessToken encodes and stores an access-token item.
func SetAccessToken(s Store, profile, item string, t AccessToken) error {
	v, err := EncodeAccessToken(t)
	if err != nil {
		return err
	}
	return s.Set(profile, item, v)
}
