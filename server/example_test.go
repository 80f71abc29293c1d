package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/paragon-cli/paragon/server"
	"golang.org/x/crypto/bcrypt"
)

// A demo server in a test: log in as alice through a key that allows
// untrusted endpoints, then call a function with the user token.
func Example() {
	acct := server.DemoAccount()
	acct.Keys[0].AllowUntrusted = true
	s, err := server.New(server.Options{Account: acct, FakeClock: true, PasswordCost: bcrypt.MinCost})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()

	form := url.Values{"authtype": {"0"}, "userid": {"alice"}, "password": {"wonderland"}}
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Api-Key", server.DemoKeyValue)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println("login:", res.StatusCode)

	req, _ = http.NewRequest("GET", ts.URL+"/api/v1/version", nil)
	req.Header.Set("X-Api-Key", server.DemoKeyValue)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println("version without a user token:", res.StatusCode)
	// Output:
	// login: 200
	// version without a user token: 403
}
