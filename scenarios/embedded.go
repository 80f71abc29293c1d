package scenarios

import (
	"net/http"

	"github.com/paragon-cli/paragon/server"
	"golang.org/x/crypto/bcrypt"
)

// embeddedSecondKey is the value of the second API key the embedded
// reference server has besides the demo key (${second_api_key}).
const embeddedSecondKey = "paragon-second-key"

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
