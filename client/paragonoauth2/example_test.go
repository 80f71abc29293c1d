package paragonoauth2_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/client/paragonoauth2"
	"github.com/paragon-cli/paragon/server"
)

// A paragon login feeds code written for x/oauth2, and a token held as an
// oauth2.Token drives a paragon Session.
func Example() {
	ctx := context.Background()
	ts := startServer() // the reference server; its API key trusts devices at once
	defer ts.Close()

	c, err := client.New(client.Config{BaseURL: ts.URL, APIKey: server.DemoKeyValue})
	check(err)
	reg, err := c.Register(ctx, client.RegisterRequest{Description: "oauth2 example"})
	check(err)
	dev, err := reg.Wait(ctx)
	check(err)
	sess, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Device: dev})
	check(err)

	// paragon → x/oauth2: the session's refreshing source as an oauth2.TokenSource.
	var src oauth2.TokenSource = paragonoauth2.TokenSource(ctx, sess.Source())
	tok, err := src.Token()
	check(err)
	fmt.Println("oauth2 token:", tok.Type(), tok.Valid())

	// x/oauth2 → paragon: an oauth2.Token (here the same one) drives a Session.
	again := c.Session(paragonoauth2.FromOAuth2(oauth2.StaticTokenSource(tok)))
	users, err := again.ListUsers(ctx, 0)
	check(err)
	fmt.Println("users:", len(users))
	// Output:
	// oauth2 token: Bearer true
	// users: 3
}

func startServer() *httptest.Server {
	acct := server.DemoAccount()
	acct.Keys[0].AutoTrust = true
	srv, err := server.New(server.Options{Account: acct, PasswordCost: bcrypt.MinCost})
	check(err)
	return httptest.NewServer(srv)
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
