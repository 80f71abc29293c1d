// Package keystore keeps paragon's secrets: API keys, device keys, refresh
// tokens and the current access tokens, per profile.
//
// A [Store] is a tiny get/set/delete interface with four backends: the OS
// keyring ([NewKeyring], every call bounded by a timeout), a JSON file of mode
// 0600 ([NewFile], atomic writes, refuses a file others can read), memory
// ([NewMemory], for tests) and the environment ([NewEnv], read-only:
// PARAGON_TOKEN and PARAGON_API_KEY). [Open] chooses between keyring and file
// and says out loud when it had to fall back; [Layered] lets the environment
// win over the store and reports where each secret came from. [GetItems]
// reads several items of a profile in one operation (with the Secret
// Service, one round of D-Bus calls instead of seven calls per item), and
// [Options].Prefetch lets Open's keyring probe read them in the same round.
//
// [Lock] is a cross-process lock per profile, held around "read the stored
// tokens → refresh if still needed → store", so that parallel paragon
// processes refresh once and none is logged out by refresh-token rotation.
//
// Values never appear in error messages; item and profile names do.
package keystore

import (
	"errors"
	"fmt"
)

// Store holds secrets by profile and item name. Implementations are safe for
// concurrent use by multiple goroutines.
type Store interface {
	// Get returns the item's value, or an error wrapping ErrNotFound when the
	// profile has no such item.
	Get(profile, item string) (string, error)
	// Set stores the value, replacing any earlier one. Values of
	// MaxValueBytes or more are refused with an error wrapping ErrTooBig.
	Set(profile, item, value string) error
	// Delete removes the item. Deleting an absent item is not an error.
	Delete(profile, item string) error
	// Name names the backend as the CLI shows it: "keyring", "file",
	// "memory" or "environment".
	Name() string
}

// Item names: what paragon stores per profile.
const (
	// ItemAPIKey is the API key (X-Api-Key, also the OAuth client_secret).
	ItemAPIKey = "api-key"
	// ItemDeviceID is the device's client_id.
	ItemDeviceID = "device-id"
	// ItemDevicePrivateKey is the device's private key (base64 of the
	// Ed25519 seed or key, as the client encodes it).
	ItemDevicePrivateKey = "device-private-key"
	// ItemDeviceRefreshToken is the refresh token of the device token.
	ItemDeviceRefreshToken = "device-refresh-token"
	// ItemUserRefreshToken is the refresh token of the user token.
	ItemUserRefreshToken = "user-refresh-token"
	// ItemDeviceAccessToken is the current device token with its expiry,
	// JSON as written by EncodeAccessToken.
	ItemDeviceAccessToken = "device-access-token"
	// ItemUserAccessToken is the current user token with its expiry, JSON as
	// written by EncodeAccessToken.
	ItemUserAccessToken = "user-access-token"
	// ItemUserName is the name of the logged-in user (not secret, but kept
	// with the tokens it belongs to).
	ItemUserName = "user-name"
)

// Items lists every item name paragon stores, in a stable order (for
// status output and for deleting a whole profile).
var Items = []string{
	ItemAPIKey, ItemDeviceID, ItemDevicePrivateKey,
	ItemDeviceRefreshToken, ItemDeviceAccessToken,
	ItemUserName, ItemUserRefreshToken, ItemUserAccessToken,
}

// MaxValueBytes is the size every value must stay under: Windows' Credential
// Manager refuses secrets of 2,560 bytes or more, and we keep a margin.
const MaxValueBytes = 2500

var (
	// ErrNotFound means the profile has no such item.
	ErrNotFound = errors.New("secret not found")
	// ErrTooBig means a value is MaxValueBytes or longer.
	ErrTooBig = errors.New("secret too big")
	// ErrReadOnly means the backend cannot store or delete (the environment).
	ErrReadOnly = errors.New("read-only secret store")
	// ErrTimeout means the OS keyring did not answer in time (a locked or
	// absent Secret Service).
	ErrTimeout = errors.New("OS keyring timed out")
	// ErrInvalidName means a profile or item name is empty or has characters
	// outside [A-Za-z0-9._-] (names become file and service names).
	ErrInvalidName = errors.New("invalid name")
)

// checkName validates a profile or item name: 1-64 bytes of [A-Za-z0-9._-],
// not starting with a dot.
func checkName(kind, name string) error {
	if name == "" || len(name) > 64 || name[0] == '.' {
		return fmt.Errorf("keystore: %w: %s %q", ErrInvalidName, kind, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("keystore: %w: %s %q", ErrInvalidName, kind, name)
		}
	}
	return nil
}

// checkKey validates a profile and an item name.
func checkKey(profile, item string) error {
	if err := checkName("profile", profile); err != nil {
		return err
	}
	return checkName("item", item)
}

// checkValue enforces MaxValueBytes, naming the item but never the value.
func checkValue(profile, item, value string) error {
	if len(value) >= MaxValueBytes {
		return fmt.Errorf("keystore: %w: %s of profile %s is %d bytes; secrets must stay under %d bytes (the Windows credential limit)",
			ErrTooBig, item, profile, len(value), MaxValueBytes)
	}
	return nil
}

// checkSet runs every check Set needs.
func checkSet(profile, item, value string) error {
	if err := checkKey(profile, item); err != nil {
		return err
	}
	return checkValue(profile, item, value)
}

// notFound builds the error Get returns for an absent item.
func notFound(backend, profile, item string) error {
	return fmt.Errorf("keystore: %s: %s of profile %s: %w", backend, item, profile, ErrNotFound)
}
