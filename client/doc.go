// Package client speaks the Dispatcher Paragon Cloud auth protocol
// (docs/protocol.md in this repository): it trusts a device with an
// Ed25519 key (register, then poll for a device token), logs a user in with
// that device token, keeps user and device tokens fresh with single-flight,
// persist-before-use refresh, and makes authorized API calls that survive an
// expired or revoked access token by refreshing once and retrying once.
//
// The package has no globals: everything hangs off a [Client] built by [New]
// from a [Config]. Token storage and cross-process locking are one small
// interface, [TokenStore], set on [SourceConfig], so that callers (the
// paragon CLI backs it with package keystore) can keep secrets in the OS
// keyring and coordinate parallel processes; the package itself knows
// nothing of storage.
//
// Errors from the server are [*APIError] values. Outcomes a program must act
// on are also matched by sentinel errors with [errors.Is]: [ErrLoginRequired]
// (log in again), [ErrDeviceNotTrusted] (register the device again),
// [ErrAccessDenied], [ErrDeviceCodeExpired], [ErrDeviceCodeInvalid],
// [ErrInvalidCredentials], [ErrTooManyAttempts] and [ErrPersist].
//
// No secret (token, API key, password, device code, private key, signature)
// is ever part of an error message; [DebugTransport] logs HTTP traffic with
// all of them masked.
package client
