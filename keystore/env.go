package keystore

import (
	"fmt"
	"os"
)

// Environment variables the Env store reads.
const (
	// EnvToken holds a user access token; it applies to every profile.
	EnvToken = "PARAGON_TOKEN"
	// EnvAPIKey holds an API key; it applies to every profile.
	EnvAPIKey = "PARAGON_API_KEY"
)

// Env is a read-only Store over the environment: PARAGON_TOKEN answers
// ItemUserAccessToken (as AccessToken JSON with no expiry) and
// PARAGON_API_KEY answers ItemAPIKey, for every profile. Every other item is
// not found. Set and Delete fail with ErrReadOnly.
type Env struct {
	getenv func(string) string
}

// NewEnv returns the environment store. getenv is os.Getenv when nil (tests
// pass a map lookup).
func NewEnv(getenv func(string) string) *Env {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Env{getenv: getenv}
}

// Name returns "environment".
func (e *Env) Name() string { return "environment" }

// Get implements Store.
func (e *Env) Get(profile, item string) (string, error) {
	if err := checkKey(profile, item); err != nil {
		return "", err
	}
	switch item {
	case ItemAPIKey:
		if v := e.getenv(EnvAPIKey); v != "" {
			return v, nil
		}
	case ItemUserAccessToken:
		if v := e.getenv(EnvToken); v != "" {
			return EncodeAccessToken(AccessToken{Token: v})
		}
	}
	return "", notFound(e.Name(), profile, item)
}

// Set fails: the environment is read-only.
func (e *Env) Set(profile, item, value string) error {
	return fmt.Errorf("keystore: cannot store %s: the environment (%s, %s) is read-only: %w", item, EnvToken, EnvAPIKey, ErrReadOnly)
}

// Delete fails: the environment is read-only.
func (e *Env) Delete(profile, item string) error {
	return fmt.Errorf("keystore: cannot delete %s: the environment (%s, %s) is read-only; unset the variable instead: %w", item, EnvToken, EnvAPIKey, ErrReadOnly)
}
