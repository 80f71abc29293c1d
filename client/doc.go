// Package client is the Go library for the Dispatcher Paragon Cloud auth
// protocol (docs/protocol.md in this repository). It trusts a device with
// an Ed25519 key, logs users in with the device's token, and calls the API
// through an *http.Client that refreshes its token itself: single-flight,
// saved before use, once for all goroutines and, with a locking store,
// once for all processes. It depends on the standard library only.
//
// # The walk of a service
//
// One [Client] per server and API key; then a trusted [Device], a login and
// the user's [Session], whose [Session.HTTPClient] is the authorized client
// (it adds X-Api-Key and the bearer token, refreshes an expiring token and
// retries a 401 once):
//
//	c, err := client.New(client.Config{BaseURL: "https://host", APIKey: apiKey})
//	devStore := client.FileStore{Path: filepath.Join(dir, "device.json")}
//	dev, err := c.LoadDevice(devStore) // trusted in an earlier run
//	if errors.Is(err, client.ErrNoDevice) {
//		reg, _ := c.Register(ctx, client.RegisterRequest{Description: "my service", Store: devStore})
//		dev, err = reg.Wait(ctx) // until an administrator approves it
//	}
//	alice := client.FileStore{Path: filepath.Join(dir, "alice.json")}
//	sess, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: pw, Device: dev, Store: alice})
//	users, err := sess.ListUsers(ctx, 0)           // typed: []client.User
//	resp, err := sess.HTTPClient().Get(c.APIURL("/api/v1/account"))
//	err = client.CheckResponse(resp)               // a non-2xx answer as *client.APIError
//
// A later run resumes the login with c.UserSession(alice). The Examples show
// each step against the reference server.
//
// # Storage
//
// Tokens are kept by a [TokenStore] (load, save, and a lock that makes
// "load, refresh if still needed, save" one step across processes); a
// device also keeps its id and key ([DeviceStore]). [FileStore] implements
// both in a file; a service may implement them over its own database. The
// paragon CLI implements TokenStore over the OS keyring. Without a store,
// tokens live in memory only. There is no default location.
//
// # Errors
//
// Errors from the server are [*APIError] values (use [errors.As]).
// Outcomes a program must act on are also matched by sentinel errors with
// [errors.Is]: [ErrLoginRequired] (log in again), [ErrDeviceNotTrusted]
// (register the device again), [ErrInvalidCredentials],
// [ErrTooManyAttempts], [ErrAccessDenied], [ErrDeviceCodeExpired],
// [ErrDeviceCodeInvalid], [ErrNoDevice] and [ErrPersist].
//
// No secret (token, API key, password, device code, private key, signature)
// is ever part of an error message; [DebugTransport] logs HTTP traffic with
// all of them masked.
//
// # Names
//
// The package is client, its types Client and Config; where that collides
// with another client package, import it under the product's name:
//
//	import paragon "github.com/paragon-cli/paragon/client"
//
// The subpackage paragonoauth2 adapts token sources to and from
// golang.org/x/oauth2.
package client
