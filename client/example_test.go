package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/server"
)

// A program trusts its device, logs alice in, and calls the API once a day
// for 90 simulated days. Access tokens last an hour, so every call finds an
// expired token; the token sources renew (and save) them silently.
// TestNinetyDaysWithSecretsInTheOSKeyring runs the same program with the
// secrets in the OS keyring (through the TokenStore of ExampleTokenStore).
func Example() {
	ctx := context.Background()
	ref := startExampleServer() // reference server, fake clock, an admin approving devices
	defer ref.Close()
	vault := &vault{} // the CLI keeps these in the OS keyring

	c, err := client.New(client.Config{BaseURL: ref.URL, APIKey: "paragon-dev-key", Now: ref.Now, Sleep: ref.WaitForAdmin})
	check(err)
	reg, err := c.Register(ctx, client.RegisterRequest{Description: "example"}) // a new device id and key
	check(err)
	device, err := reg.Wait(ctx) // until an administrator approves it
	check(err)
	api, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Device: device, Store: vault.Store("user")})
	check(err)
	for day := 1; day <= 90; day++ {
		ref.Advance(24 * time.Hour)
		users, err := api.ListUsers(ctx, 10)
		check(err)
		if day%30 == 0 {
			fmt.Printf("day %d: %d users, first %s\n", day, len(users), users[0].Username)
		}
	}
	fmt.Println("user tokens saved:", vault.Count("user")) // the login's and 90 refreshed ones
	// Output:
	// day 30: 3 users, first alice
	// day 60: 3 users, first alice
	// day 90: 3 users, first alice
	// user tokens saved: 91
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

// vault keeps tokens in memory: vault.Store(name) is a TokenStore.
type vault struct {
	mu     sync.Mutex
	tokens map[string]*client.Token
	saves  map[string]int
}

// Store returns the TokenStore of the tokens called name.
func (v *vault) Store(name string) client.TokenStore { return vaultStore{v, name} }

type vaultStore struct {
	v    *vault
	name string
}

// Lock: one process, and the source itself serializes its refreshes.
func (vaultStore) Lock(context.Context) (func(), error) { return func() {}, nil }

func (s vaultStore) Load() (*client.Token, error) {
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	return s.v.tokens[s.name], nil
}

func (s vaultStore) Save(t *client.Token) error {
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	if s.v.tokens == nil {
		s.v.tokens, s.v.saves = map[string]*client.Token{}, map[string]int{}
	}
	s.v.tokens[s.name] = t
	s.v.saves[s.name]++
	return nil
}

func (v *vault) Count(name string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.saves[name]
}

// refServer is the reference server in-process with its fake clock, and a
// client-side clock that follows the server's advances.
type refServer struct {
	URL  string
	ts   *httptest.Server
	srv  *server.Server
	fail func(msg string) // reports a failed admin call

	mu     sync.Mutex
	offset time.Duration // what the client's clock knows of the advances
}

// startExampleServer starts the reference server; a failed admin call
// panics.
func startExampleServer() *refServer {
	srv, err := server.New(server.Options{FakeClock: true, PasswordCost: bcrypt.MinCost, AdminToken: adminToken})
	check(err)
	ts := httptest.NewServer(srv)
	return &refServer{URL: ts.URL, ts: ts, srv: srv, fail: func(msg string) { panic(msg) }}
}

// Close stops the server.
func (r *refServer) Close() {
	r.ts.Close()
	_ = r.srv.Close()
}

// Now is the client's clock: real time plus the advances it knows of.
func (r *refServer) Now() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Now().Add(r.offset)
}

// Advance moves the server's fake clock and the client's clock together,
// so that the client refreshes ahead of expiry.
func (r *refServer) Advance(d time.Duration) {
	r.AdvanceServer(d)
	r.mu.Lock()
	r.offset += d
	r.mu.Unlock()
}

// AdvanceServer moves only the server's fake clock: the client finds out
// from the server's answers.
func (r *refServer) AdvanceServer(d time.Duration) {
	r.admin("POST", "/admin/api/clock", map[string]string{"advance": d.String()}, nil)
}

// WaitForAdmin is the poll wait: the administrator approves pending devices
// and the wait passes in fake time.
func (r *refServer) WaitForAdmin(ctx context.Context, d time.Duration) error {
	var list struct {
		Items []struct {
			ClientID string `json:"client_id"`
			Status   string `json:"status"`
		} `json:"items"`
	}
	r.admin("GET", "/admin/api/devices", nil, &list)
	for _, dev := range list.Items {
		if dev.Status == "pending" {
			r.admin("POST", "/admin/api/devices/"+dev.ClientID+"/approve", nil, nil)
		}
	}
	r.Advance(d)
	return ctx.Err()
}

// admin calls the admin API with in as the JSON body (if non-nil) and
// decodes the answer into out (if non-nil).
func (r *refServer) admin(method, path string, in, out any) {
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	req, err := http.NewRequest(method, r.URL+path, bytes.NewReader(body))
	if err != nil {
		r.fail(err.Error())
		return
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.fail(err.Error())
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		r.fail(fmt.Sprintf("admin %s %s: %s", method, path, resp.Status))
		return
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			r.fail(fmt.Sprintf("admin %s %s: decoding: %v", method, path, err))
		}
	}
}
