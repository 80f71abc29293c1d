package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder is a server that notes every request it gets.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (rec *recorder) handler(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.seen = append(rec.seen, r.Method+" "+r.URL.Path+" key="+r.Header.Get("X-Api-Key")+" auth="+r.Header.Get("Authorization")+" body="+string(b))
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"token":{"access_token":"X","refresh_token":"Y","expires_in":3600,"token_type":"Bearer"}}`)
}

func (rec *recorder) requests() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.seen...)
}

// redirector answers every request with a redirect to target+path.
func redirector(target string, code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, code)
	})
}

func TestRedirectToAnotherHostCarriesNoCredentials(t *testing.T) {
	evil := &recorder{}
	es := httptest.NewServer(http.HandlerFunc(evil.handler))
	defer es.Close()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		gs := httptest.NewServer(redirector(es.URL, code))
		c, err := New(Config{BaseURL: gs.URL, APIKey: "the-api-key"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, lerr := c.LoginToken(ctx, LoginRequest{UserID: "alice", Password: "the-password", DeviceToken: StaticTokenSource(&Token{AccessToken: "the-device-token"})})
		_, lgerr := c.LoginToken(ctx, LoginRequest{UserID: "alice", Password: "the-password", Untrusted: true, UseGET: true})
		src := c.UserTokenSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "the-refresh-token"}})
		_, rerr := src.ForceRefresh(ctx, &Token{AccessToken: "A0", RefreshToken: "the-refresh-token"})
		_, verr := c.Session(StaticTokenSource(&Token{AccessToken: "the-user-token"})).Version(ctx)
		gs.Close()
		for _, err := range []error{lerr, lgerr, rerr, verr} {
			if err == nil || !strings.Contains(err.Error(), "refusing to follow a redirect") {
				t.Errorf("%d: err %v, want the redirect refused", code, err)
			}
		}
	}
	if got := evil.requests(); len(got) != 0 {
		t.Errorf("the other host got requests: %q", got)
	}
}

func TestRedirectOnTheSameHostIsFollowed(t *testing.T) {
	rec := &recorder{}
	mux := http.NewServeMux()
	mux.Handle("/old/", http.StripPrefix("/old", redirector("", http.StatusPermanentRedirect)))
	mux.HandleFunc("/", rec.handler)
	s := httptest.NewServer(mux)
	defer s.Close()
	c, err := New(Config{BaseURL: s.URL + "/old", APIKey: "the-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoginToken(context.Background(), LoginRequest{UserID: "alice", Password: "pw", Untrusted: true}); err != nil {
		t.Fatalf("login through a same-host redirect: %v", err)
	}
	got := rec.requests()
	if len(got) != 1 || !strings.Contains(got[0], "key=the-api-key") || !strings.Contains(got[0], "password=pw") {
		t.Errorf("requests %q, want the login replayed on the same host", got)
	}
}

func TestRedirectFromHTTPSToHTTPIsRefused(t *testing.T) {
	plain := &recorder{}
	ps := httptest.NewServer(http.HandlerFunc(plain.handler))
	defer ps.Close()
	ts := httptest.NewTLSServer(redirector(ps.URL, http.StatusTemporaryRedirect))
	defer ts.Close()
	// The plain server is even a configured host: still no downgrade.
	c, err := New(Config{BaseURL: ts.URL, OAuthURL: ps.URL, APIKey: "the-api-key", HTTPClient: ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.LoginToken(context.Background(), LoginRequest{UserID: "alice", Password: "the-password", Untrusted: true})
	if err == nil || !strings.Contains(err.Error(), "from https to http") {
		t.Errorf("err %v, want the downgrade refused", err)
	}
	if got := plain.requests(); len(got) != 0 {
		t.Errorf("credentials sent over plain http: %q", got)
	}
	if ts.Client().CheckRedirect != nil {
		t.Error("New modified the caller's http.Client")
	}
}
