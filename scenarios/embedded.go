package scenarios

import (
	"net/http"
	"time"

	"github.com/paragon-cli/paragon/server"
	"golang.org/x/crypto/bcrypt"
)

// embeddedSecondKey is the value of the second API key the embedded
// reference server has besides the demo key (${second_api_key}).
const embeddedSecondKey = "paragon-second-key"

// EmbeddedSecondAPIKey is the second API key of the embedded reference
// server (besides DemoAPIKey).
const EmbeddedSecondAPIKey = embeddedSecondKey

// EmbeddedBaseURL is the base URL of an EmbeddedServer: its API, OAuth and
// admin API all answer there, through EmbeddedServer.Client only.
const EmbeddedBaseURL = embeddedBase

// newEmbedded builds a reference server with the demo account plus a second
// key, a fake clock and the cheapest bcrypt cost, so that a fresh one per
// scenario costs about a millisecond.
func newEmbedded(adminToken string) (http.Handler, func(), error) {
	acct := server.DemoAccount()
	acct.Keys = append(acct.Keys, server.Key{
		Name: "second", Value: embeddedSecondKey, Type: "general", Active: true,
		AllowedIPs: []string{}, Permissions: []string{},
	})
	s, err := server.New(server.Options{Account: acct, FakeClock: true, PasswordCost: bcrypt.MinCost, AdminToken: adminToken})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { _ = s.Close() }, nil
}

// EmbeddedServer is the reference server `scenario run` uses by default
// (demo account plus the second key, fake clock, cheapest bcrypt cost),
// called in process through Client, for other testers such as `scenario
// explore`.
type EmbeddedServer struct {
	Client     *http.Client // serves EmbeddedBaseURL in process, safe for concurrent use
	AdminToken string
	Close      func()
}

// NewEmbeddedServer starts an EmbeddedServer; wrap, if not nil, wraps its
// handler as Target.Wrap does.
func NewEmbeddedServer(wrap func(h http.Handler, adminToken string) http.Handler) (*EmbeddedServer, error) {
	token := randomHex(16)
	h, release, err := newEmbedded(token)
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		h = wrap(h, token)
	}
	return &EmbeddedServer{Client: &http.Client{Transport: &handlerTransport{h: h}, Timeout: 30 * time.Second}, AdminToken: token, Close: release}, nil
}
