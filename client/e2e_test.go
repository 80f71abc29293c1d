package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/client"
)

const (
	demoKey    = "paragon-dev-key"
	adminToken = "t"
)

// startRefServer starts the reference server in-process for a test (see
// refServer); an admin call that fails fails the test.
func startRefServer(t testing.TB) *refServer {
	t.Helper()
	r := startExampleServer()
	r.fail = func(msg string) {
		t.Helper()
		t.Fatal(msg)
	}
	t.Cleanup(r.Close)
	return r
}

// memStore is an in-memory TokenStore that counts saves.
type memStore struct {
	mu    sync.Mutex
	tok   *client.Token
	saves int
}

func (m *memStore) Save(t *client.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tok, m.saves = t, m.saves+1
	return nil
}

func (m *memStore) Lock(context.Context) (func(), error) { return func() {}, nil }

func (m *memStore) Load() (*client.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tok, nil
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}

// trustedDevice registers a keyed device, has the admin approve it while the
// client polls (authorization_pending first), and returns its token source.
func trustedDevice(t *testing.T, r *refServer, c *client.Client, store *memStore) (string, ed25519.PrivateKey, *client.RefreshingSource) {
	t.Helper()
	ctx := context.Background()
	key, err := client.GenerateDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	id := client.NewDeviceID()
	reg, err := c.Register(ctx, client.RegisterRequest{ClientID: id, ClientType: client.ClientTypeDesktop,
		Description: "e2e test", State: "st-1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if reg.State != "st-1" || reg.Interval != 5*time.Second {
		t.Errorf("registration %+v", reg)
	}
	var events []client.PollEvent
	tok, err := c.PollDeviceToken(ctx, client.PollRequest{ClientID: id, DeviceCode: reg.DeviceCode, Key: key,
		Interval: reg.Interval, Progress: func(e client.PollEvent) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Status != "authorization_pending" {
		t.Errorf("poll events %+v, want one authorization_pending", events)
	}
	_ = store.Save(tok)
	return id, key, c.Device(id, key, client.SourceConfig{Token: tok, Store: store}).TokenSource()
}

// newE2EClient returns a client whose poll waits approve pending devices
// and advance the fake clock by the wait (a polite poller in fake time).
func newE2EClient(t *testing.T, r *refServer) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: r.URL, APIKey: demoKey, Now: r.Now, Sleep: r.WaitForAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestE2ETrustLoginRefreshAndLogout(t *testing.T) {
	r := startRefServer(t)
	c := newE2EClient(t, r)
	ctx := context.Background()
	devStore, userStore := &memStore{}, &memStore{}
	_, _, dev := trustedDevice(t, r, c, devStore)

	tok, err := c.LoginToken(ctx, client.LoginRequest{AuthType: client.AuthPassword, UserID: "alice", Password: "wonderland", DeviceToken: dev})
	if err != nil {
		t.Fatal(err)
	}
	_ = userStore.Save(tok)
	user := c.UserTokenSource(client.SourceConfig{Token: tok, Store: userStore})
	s := c.Session(user)
	users, err := s.ListUsers(ctx, 0)
	if err != nil || len(users) != 3 || users[0].Username != "alice" {
		t.Fatalf("users %v err %v", users, err)
	}

	// 61 minutes later, the client knows: it refreshes before calling.
	r.Advance(61 * time.Minute)
	if _, err := s.ListUsers(ctx, 1); err != nil {
		t.Fatalf("after 61m: %v", err)
	}
	if userStore.count() != 2 || user.Current().AccessToken == tok.AccessToken {
		t.Fatalf("no silent proactive refresh: saves %d", userStore.count())
	}

	// 61 minutes later, the client does not know: 401, refresh, retry.
	before := user.Current()
	r.AdvanceServer(61 * time.Minute)
	if _, err := s.Version(ctx); err != nil {
		t.Fatalf("after 61m unknown to the client: %v", err)
	}
	if userStore.count() != 3 || user.Current().AccessToken == before.AccessToken {
		t.Fatalf("no silent reactive refresh: saves %d", userStore.count())
	}

	// The device token expired meanwhile too: a new login refreshes it
	// (signed) first.
	if _, err := c.LoginToken(ctx, client.LoginRequest{UserID: "bob", Password: "builder", DeviceToken: dev}); err != nil {
		t.Fatalf("login with an expired device token: %v", err)
	}
	if devStore.count() != 2 {
		t.Errorf("device token saves %d, want 2", devStore.count())
	}

	// Past 90 days of silence both refresh tokens are dead.
	r.Advance(91 * 24 * time.Hour)
	if _, err := s.ListUsers(ctx, 1); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("after 91 days: %v, want ErrLoginRequired", err)
	}
	_, err = c.LoginToken(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", DeviceToken: dev})
	if !errors.Is(err, client.ErrDeviceNotTrusted) {
		t.Fatalf("login after 91 days: %v, want ErrDeviceNotTrusted", err)
	}
}

func TestE2EReusedRefreshTokenAndRevocation(t *testing.T) {
	r := startRefServer(t)
	c := newE2EClient(t, r)
	ctx := context.Background()
	_, _, dev := trustedDevice(t, r, c, &memStore{})
	tok, err := c.LoginToken(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", DeviceToken: dev})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RefreshUser(ctx, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	// A spent refresh token presented again: the family is revoked.
	if _, err := c.RefreshUser(ctx, tok.RefreshToken); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("reuse: %v, want ErrLoginRequired", err)
	}

	// An administrator revokes alice: the session ends with ErrLoginRequired.
	tok, err = c.LoginToken(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", DeviceToken: dev})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Session(c.UserTokenSource(client.SourceConfig{Token: tok}))
	if _, err := s.Account(ctx); err != nil {
		t.Fatal(err)
	}
	r.admin("POST", "/admin/api/revoke", map[string]string{"username": "alice"}, nil)
	if _, err := s.Account(ctx); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("after revocation: %v, want ErrLoginRequired", err)
	}

	// Wrong password: ErrInvalidCredentials.
	if _, err := c.LoginToken(ctx, client.LoginRequest{UserID: "alice", Password: "nope", DeviceToken: dev}); !errors.Is(err, client.ErrInvalidCredentials) {
		t.Fatalf("bad password: %v", err)
	}
}

func TestE2EReRegistrationSignedNeedsNoApproval(t *testing.T) {
	r := startRefServer(t)
	c := newE2EClient(t, r)
	ctx := context.Background()
	id, key, _ := trustedDevice(t, r, c, &memStore{})
	reg, err := c.Register(ctx, client.RegisterRequest{ClientID: id, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.PollDeviceToken(ctx, client.PollRequest{ClientID: id, DeviceCode: reg.DeviceCode, Key: key,
		Progress: func(e client.PollEvent) { t.Errorf("re-registration had to wait: %+v", e) }})
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("%v %v", tok, err)
	}
	// The code is spent now.
	_, err = c.PollDeviceToken(ctx, client.PollRequest{ClientID: id, DeviceCode: reg.DeviceCode, Key: key})
	if !errors.Is(err, client.ErrDeviceCodeInvalid) {
		t.Fatalf("spent code: %v, want ErrDeviceCodeInvalid", err)
	}
	// A transient 503 from the OAuth service while polling is retried.
	reg, err = c.Register(ctx, client.RegisterRequest{ClientID: id, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	r.admin("POST", "/admin/api/faults", map[string]any{"path": "/oauth/v1/token", "status": 503, "count": 1}, nil)
	var statuses []string
	tok, err = c.PollDeviceToken(ctx, client.PollRequest{ClientID: id, DeviceCode: reg.DeviceCode, Key: key,
		Progress: func(e client.PollEvent) { statuses = append(statuses, e.Status) }})
	if err != nil || tok.AccessToken == "" || fmt.Sprint(statuses) != "[retry]" {
		t.Fatalf("poll through a 503: %v %v, events %v", tok, err, statuses)
	}

	// A refused device.
	id2 := client.NewDeviceID()
	reg2, err := c.Register(ctx, client.RegisterRequest{ClientID: id2})
	if err != nil {
		t.Fatal(err)
	}
	r.admin("POST", "/admin/api/devices/"+id2+"/refuse", nil, nil)
	if _, err := c.PollDeviceToken(ctx, client.PollRequest{ClientID: id2, DeviceCode: reg2.DeviceCode}); !errors.Is(err, client.ErrAccessDenied) {
		t.Fatalf("refused: %v, want ErrAccessDenied", err)
	}
}

func TestE2EFunctions(t *testing.T) {
	r := startRefServer(t)
	c := newE2EClient(t, r)
	ctx := context.Background()
	_, _, dev := trustedDevice(t, r, c, &memStore{})
	login := func(name, pw string) *client.Session {
		tok, err := c.LoginToken(ctx, client.LoginRequest{UserID: name, Password: pw, DeviceToken: dev})
		if err != nil {
			t.Fatal(err)
		}
		return c.Session(c.UserTokenSource(client.SourceConfig{Token: tok}))
	}
	carol, alice := login("carol", "queen-of-hearts"), login("alice", "wonderland")

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if v, err := alice.Version(ctx); err != nil || v.Version == "" {
		t.Fatalf("version %v %v", v, err)
	}
	if err := carol.CreateUser(ctx, client.NewUser{Username: "dave", FullName: "Dave", Email: "dave@example.com", Password: "pw-dave-1", CardID: "CARD-9", ShortID: "9009"}); err != nil {
		t.Fatal(err)
	}
	if u, err := alice.GetUser(ctx, "dave"); err != nil || u.Email != "dave@example.com" {
		t.Fatalf("get dave: %v %v", u, err)
	}
	// alice may not delete: a 403 that no refresh can cure.
	var ae *client.APIError
	if err := alice.DeleteUser(ctx, "dave"); !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Code != "forbidden" {
		t.Fatalf("alice deletes: %v", err)
	}
	if err := carol.DeleteUser(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.GetUser(ctx, "dave"); !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Fatalf("deleted user: %v", err)
	}

	for i := range 5 {
		doc, err := alice.SubmitDocument(ctx, client.PrintJob{Title: fmt.Sprintf("doc %d", i), Copies: 2, Duplex: i%2 == 0,
			FileName: "a.pdf", Data: []byte("%PDF-1.4 test")})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("%PDF-1.4 test"))
		if doc.ID == "" || doc.Owner != "alice" || doc.Title != fmt.Sprintf("doc %d", i) || doc.Copies != 2 || doc.Duplex != (i%2 == 0) ||
			doc.Size != 13 || doc.SHA256 != hex.EncodeToString(sum[:]) || doc.SubmittedAt.IsZero() || !json.Valid(doc.Raw) {
			t.Errorf("submitted document %+v", doc)
		}
	}
	page, err := alice.DocumentHistory(ctx, client.HistoryQuery{MaxRecords: 2})
	if err != nil || len(page.Items) != 2 || page.NextPageToken == "" {
		t.Fatalf("first page %+v %v", page, err)
	}
	n := 0
	for it, err := range alice.AllDocumentHistory(ctx, client.HistoryQuery{MaxRecords: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if it.Title == "" {
			t.Errorf("item without title: %v", it)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("history has %d items over pages, want 5", n)
	}
	if items, err := carol.DocumentHistory(ctx, client.HistoryQuery{}); err != nil || len(items.Items) != 0 {
		t.Fatalf("carol sees %v (%v), want only her own (none)", items, err)
	}
}

func TestE2EConcurrentSessionOneRefresh(t *testing.T) {
	r := startRefServer(t)
	c := newE2EClient(t, r)
	ctx := context.Background()
	_, _, dev := trustedDevice(t, r, c, &memStore{})
	tok, err := c.LoginToken(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", DeviceToken: dev})
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	s := c.Session(c.UserTokenSource(client.SourceConfig{Token: tok, Store: store}))
	r.Advance(2 * time.Hour)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Version(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// With strict rotation a second refresh would have spent a dead token
	// and revoked the family; one save means one refresh.
	if store.count() != 1 {
		t.Fatalf("%d refreshes, want 1", store.count())
	}
}

func TestE2ELoginKinds(t *testing.T) {
	r := startRefServer(t)
	c := newE2EClient(t, r)
	ctx := context.Background()
	_, _, dev := trustedDevice(t, r, c, &memStore{})
	for _, tc := range []struct {
		req  client.LoginRequest
		want string // "" = success, else the APIError code
	}{
		{client.LoginRequest{AuthType: client.AuthPassword, UserID: "alice", Password: "wonderland", UseGET: true}, ""},
		{client.LoginRequest{AuthType: client.AuthCardID, UserID: "CARD-0002"}, ""},
		{client.LoginRequest{AuthType: client.AuthShortID, UserID: "1003"}, ""},
		{client.LoginRequest{AuthType: client.AuthUsername, UserID: "alice"}, "insecure_credentials_not_allowed"},
		{client.LoginRequest{AuthType: client.AuthEmail, UserID: "alice@example.com"}, "insecure_credentials_not_allowed"},
	} {
		tc.req.DeviceToken = dev
		tok, err := c.LoginToken(ctx, tc.req)
		var ae *client.APIError
		switch {
		case tc.want == "" && (err != nil || tok.AccessToken == ""):
			t.Errorf("authtype %d: %v", tc.req.AuthType, err)
		case tc.want != "" && (!errors.As(err, &ae) || ae.Code != tc.want):
			t.Errorf("authtype %d: %v, want %s", tc.req.AuthType, err, tc.want)
		}
	}
	// Without a device token the demo key refuses: register the device.
	_, err := c.LoginToken(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Untrusted: true})
	if !errors.Is(err, client.ErrDeviceNotTrusted) {
		t.Fatalf("untrusted login: %v, want ErrDeviceNotTrusted", err)
	}
	// Once the key allows untrusted endpoints, the same call works.
	r.admin("PATCH", "/admin/api/keys/default", map[string]any{"allow_untrusted": true}, nil)
	if _, err := c.LoginToken(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Untrusted: true}); err != nil {
		t.Fatalf("untrusted login allowed by the key: %v", err)
	}
	// Throttling: after 5 failures, ErrTooManyAttempts with Retry-After.
	for i := range 5 {
		if _, err := c.LoginToken(ctx, client.LoginRequest{UserID: "bob", Password: "wrong", DeviceToken: dev}); !errors.Is(err, client.ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	_, err = c.LoginToken(ctx, client.LoginRequest{UserID: "bob", Password: "builder", DeviceToken: dev})
	var ae *client.APIError
	if !errors.Is(err, client.ErrTooManyAttempts) || !errors.As(err, &ae) || ae.RetryAfter <= 0 {
		t.Fatalf("throttled: %v", err)
	}
}
