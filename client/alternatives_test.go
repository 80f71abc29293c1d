package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// altServer behaves like a real server that chose differently where the
// contract marks a rule [ours]: login and refresh answers bare or wrapped,
// token_type "bearer", expires_in as a string, no refresh_token in a refresh
// answer (no rotation), and 403 with no body and no WWW-Authenticate for an
// expired token.
type altServer struct {
	mu        sync.Mutex
	access    string
	refresh   string
	refreshes int
	schemes   []string
}

func (a *altServer) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/login", func(w http.ResponseWriter, r *http.Request) {
		// A bare token (not wrapped in "token"), lower-case type, string lifetime.
		fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q,"token_type":"bearer","expires_in":"3600"}`, a.access, a.refresh)
	})
	mux.HandleFunc("POST /oauth/v1/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		a.mu.Lock()
		defer a.mu.Unlock()
		if r.PostForm.Get("client_id") != "api" || r.PostForm.Get("refresh_token") != a.refresh {
			t.Errorf("refresh form %v, want client_id=api and the unrotated refresh token", r.PostForm)
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		a.refreshes++
		a.access = fmt.Sprintf("alt-access-%d", a.refreshes)
		// Wrapped, no refresh_token: the server does not rotate.
		fmt.Fprintf(w, `{"token":{"access_token":%q,"token_type":"bearer","expires_in":"3600"}}`, a.access)
	})
	mux.HandleFunc("GET /api/v1/account", func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		a.mu.Lock()
		a.schemes = append(a.schemes, scheme)
		ok := scheme == "Bearer" && tok == a.access
		a.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusForbidden) // no body, no WWW-Authenticate
			return
		}
		fmt.Fprint(w, `{"name":"alt"}`)
	})
	return mux
}

func TestClientCopesWithRealServerAlternatives(t *testing.T) {
	a := &altServer{access: "alt-access-0", refresh: "alt-refresh"}
	ts := httptest.NewServer(a.handler(t))
	defer ts.Close()
	clk := newFakeClock()
	c, err := New(Config{BaseURL: ts.URL, APIKey: testKey, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := c.LoginToken(ctx, LoginRequest{UserID: "alice", Password: "pw", Untrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "alt-access-0" || tok.RefreshToken != "alt-refresh" || !tok.Expiry.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("bare login answer read as %+v", tok)
	}
	var saved []*Token
	s := c.Session(c.UserTokenSource(SourceConfig{Token: tok, Store: funcStore{save: func(t *Token) error { saved = append(saved, t); return nil }}}))
	if o, err := s.Account(ctx); err != nil || o.Name != "alt" {
		t.Fatalf("first call: %v %v", o, err)
	}

	// The client's clock says the token is still good; the server has
	// expired it and says so with a bare 403. One refresh, one retry.
	a.mu.Lock()
	a.access = "alt-access-server-forgot"
	a.mu.Unlock()
	if o, err := s.Account(ctx); err != nil || o.Name != "alt" {
		t.Fatalf("after a bare 403: %v %v", o, err)
	}
	// The clock passes the (string) expires_in: a proactive refresh.
	clk.Advance(time.Hour)
	if _, err := s.Account(ctx); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if a.refreshes != 2 || len(saved) != 2 {
		t.Fatalf("refreshes %d, saves %d; want 2 and 2", a.refreshes, len(saved))
	}
	for _, st := range saved {
		if st.RefreshToken != "alt-refresh" || st.Expiry.IsZero() {
			t.Errorf("saved %+v: want the kept refresh token and an expiry from the string expires_in", st)
		}
	}
	for _, sc := range a.schemes {
		if sc != "Bearer" {
			t.Errorf("sent scheme %q for token_type bearer, want Bearer", sc)
		}
	}
}

// A request that brought its own Authorization is the caller's business:
// a 401 to it is returned as is, without a refresh. A 403 whose
// WWW-Authenticate says insufficient_scope is not retried either.
func TestTransportRetriesOnlyItsOwnToken(t *testing.T) {
	s, calls, _, refreshes := retryFixture(t, jsonResp(401, `{"error":"invalid_token"}`))
	req, _ := http.NewRequest("POST", testBase+"/api/v1/thing", nil)
	req.Header.Set("Authorization", "Bearer A0")
	resp, err := s.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || *calls != 1 || refreshes() != 0 {
		t.Fatalf("status %d calls %d refreshes %d, want the 401 as is", resp.StatusCode, *calls, refreshes())
	}

	scope := jsonResp(403, "")
	scope.Header.Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
	s, calls, _, refreshes = retryFixture(t, scope)
	req, _ = http.NewRequest("POST", testBase+"/api/v1/thing", nil)
	resp, err = s.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || *calls != 1 || refreshes() != 0 {
		t.Fatalf("insufficient_scope: status %d calls %d refreshes %d, want no retry", resp.StatusCode, *calls, refreshes())
	}
}

// Some servers quote what they refuse ("Invalid refresh token: …"); the
// client's errors must still carry no secret.
func TestErrorsDoNotRepeatEchoedSecrets(t *testing.T) {
	const (
		rt     = "refresh-secret-1234"
		pw     = "password-secret-5678"
		devTok = "device-token-secret-9012"
		newPW  = "new-password-secret-3456"
	)
	c, mt := newMockClient(t, nil, nil)
	echo := func(status int, code string) func(*http.Request) (*http.Response, error) {
		return func(req *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(req.Body)
			desc := fmt.Sprintf("refused %s with %s (key %s)", b, req.Header.Get("Authorization"), req.Header.Get("X-Api-Key"))
			return jsonResp(status, fmt.Sprintf(`{"error":%q,"error_description":%q}`, code, desc)), nil
		}
	}
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", echo(400, "invalid_grant"))
	mt.RegisterResponder("POST", testBase+"/api/v1/login", echo(401, "invalid_credentials"))
	mt.RegisterResponder("PUT", testBase+"/api/v1/users", echo(409, "user_exists"))
	ctx := context.Background()

	_, err := c.RefreshUser(ctx, rt)
	if !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("refresh: %v", err)
	}
	errs := []error{err}
	_, err = c.LoginToken(ctx, LoginRequest{UserID: "alice", Password: pw, DeviceToken: StaticTokenSource(&Token{AccessToken: devTok})})
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("login: %v", err)
	}
	errs = append(errs, err)
	err = c.Session(StaticTokenSource(&Token{AccessToken: devTok})).CreateUser(ctx, NewUser{Username: "dave", Password: newPW})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "user_exists" {
		t.Fatalf("create user: %v", err)
	}
	errs = append(errs, err)
	for _, err := range errs {
		if containsAny(err.Error(), rt, pw, devTok, newPW, testKey, url.QueryEscape(testKey)) {
			t.Errorf("error repeats a secret: %v", err)
		}
		if !strings.Contains(err.Error(), "refused") {
			t.Errorf("the server's description was lost: %v", err)
		}
	}
}
