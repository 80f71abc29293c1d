// Package adminweb serves the reference server's administrator web page
// (/admin): pending and trusted devices, API keys and their switches,
// lifetimes, the fake clock and users. It is server-rendered with
// html/template and talks to the server only through Backend.
package adminweb

import "time"

// Device is one registered device as the administrator sees it.
type Device struct {
	ClientID     string
	ClientType   string
	Description  string
	Status       string // "pending", "trusted" or "refused"
	RegisteredAt time.Time
}

// Key is one API key with its switches (the fields of the account file).
type Key struct {
	Name                 string
	Type                 string
	Active               bool
	ExpiresAt            time.Time // zero: never
	AllowedIPs           []string
	AllowUnauthenticated bool
	AllowUntrusted       bool
	AutoTrust            bool
	Permissions          []string
}

// KeyPatch changes some fields of a key; nil fields stay as they are.
type KeyPatch struct {
	Active               *bool
	ExpiresAt            *time.Time // pointer to zero time: never expires
	AllowedIPs           *[]string
	AllowUnauthenticated *bool
	AllowUntrusted       *bool
	AutoTrust            *bool
	Permissions          *[]string
}

// Settings are the account lifetimes.
type Settings struct {
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	DeviceCodeTTL   time.Duration
	RefreshGrace    time.Duration
}

// User is one account user (no secrets).
type User struct {
	Username string
	FullName string
	Email    string
	Admin    bool
}

// Backend is what the page needs from the server. Implementations are safe
// for concurrent use. Errors are shown to the administrator as they are.
type Backend interface {
	// CheckAdminToken reports, in constant time, whether tok is the admin token.
	CheckAdminToken(tok string) bool

	// Devices lists every registered device, pending, trusted or refused.
	Devices() []Device
	// ApproveDevice trusts a device; RefuseDevice refuses it (its next token
	// request gets access_denied and its device tokens stop working);
	// UntrustDevice forgets it (it must register again). Each fails for an
	// unknown client id.
	ApproveDevice(clientID string) error
	RefuseDevice(clientID string) error
	UntrustDevice(clientID string) error

	// Keys lists the account's API keys; UpdateKey changes the fields of
	// p that are set, all or none (an invalid value changes nothing).
	Keys() []Key
	UpdateKey(name string, p KeyPatch) error

	// Settings are the account's lifetimes; UpdateSettings replaces them
	// and fails, changing nothing, for a lifetime the server refuses.
	Settings() Settings
	UpdateSettings(s Settings) error

	// Users lists the account's users, sorted by user name.
	Users() []User
	// RevokeUser revokes every token of the user.
	RevokeUser(username string) error

	// Now is the server's clock; FakeClock reports whether it can be moved;
	// AdvanceClock moves a fake clock forward by d (not backwards) and
	// returns the new time, or fails without a fake clock.
	Now() time.Time
	FakeClock() bool
	AdvanceClock(d time.Duration) (time.Time, error)
}
