package client

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
)

func TestTokenValid(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		tok  *Token
		skew time.Duration
		want bool
	}{
		{"nil", nil, 0, false},
		{"empty access", &Token{Expiry: now.Add(time.Hour)}, 0, false},
		{"no expiry", &Token{AccessToken: "a"}, time.Minute, true},
		{"fresh", &Token{AccessToken: "a", Expiry: now.Add(time.Hour)}, time.Minute, true},
		{"within skew", &Token{AccessToken: "a", Expiry: now.Add(59 * time.Second)}, time.Minute, false},
		{"at skew edge", &Token{AccessToken: "a", Expiry: now.Add(time.Minute)}, time.Minute, false},
		{"expired", &Token{AccessToken: "a", Expiry: now.Add(-time.Second)}, 0, false},
	}
	for _, c := range cases {
		if got := c.tok.Valid(now, c.skew); got != c.want {
			t.Errorf("%s: Valid = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseToken(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, body := range []string{
		`{"token_type":"Bearer","expires_in":3600,"access_token":"A","refresh_token":"R"}`,
		`{"token":{"token_type":"Bearer","expires_in":"3600","access_token":"A","refresh_token":"R"}}`,
	} {
		tok, err := parseToken([]byte(body), now)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		want := Token{AccessToken: "A", RefreshToken: "R", TokenType: "Bearer", Expiry: now.Add(time.Hour)}
		if *tok != want {
			t.Errorf("%s: got %+v, want %+v", body, *tok, want)
		}
	}
	if _, err := parseToken([]byte(`{"token":{}}`), now); err == nil {
		t.Error("token without access_token accepted")
	}
	if _, err := parseToken([]byte(`not json`), now); err == nil {
		t.Error("non-JSON accepted")
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	priv, err := GenerateDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	s := MarshalPrivateKey(priv)
	if len(s) >= 2500 || !strings.HasPrefix(s, "ed25519:") {
		t.Fatalf("marshalled key %d bytes, prefix %q", len(s), s[:8])
	}
	back, err := UnmarshalPrivateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(back) {
		t.Fatal("round trip changed the key")
	}
	if pub := PublicKeyString(priv); len(pub) != 44 {
		t.Errorf("public key encoding %d chars, want 44 (base64 of 32 bytes)", len(pub))
	}
	for _, bad := range []string{"", "ed25519:!!", "ed25519:AAAA"} {
		_, err := UnmarshalPrivateKey(bad)
		if err == nil {
			t.Errorf("UnmarshalPrivateKey(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error repeats the input: %v", err)
		}
	}
	// The 64-byte form is accepted too.
	full, err := UnmarshalPrivateKey(strings.TrimPrefix(EncodePublicKey(ed25519.PublicKey(priv)), ""))
	if err != nil || !full.Equal(priv) {
		t.Errorf("64-byte form: %v", err)
	}
}

func TestNewDeviceID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewDeviceID()
		if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("%q is not a UUID v4", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestTokenPrintsNoSecret(t *testing.T) {
	tok := &Token{AccessToken: "ACCESS-SECRET", RefreshToken: "REFRESH-SECRET", TokenType: "Bearer",
		Expiry: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var buf strings.Builder
	fmt.Fprintf(&buf, "%v %+v %#v %s", tok, tok, tok, tok)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("t", "token", tok)
	if containsAny(buf.String(), "ACCESS-SECRET", "REFRESH-SECRET") {
		t.Fatalf("token printed with a secret: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "Bearer token with refresh token, expires 2026-01-01T00:00:00Z") {
		t.Errorf("description: %s", buf.String())
	}
}

func TestNewValidatesAndSplitsOAuth(t *testing.T) {
	for _, cfg := range []Config{
		{APIKey: "k"},
		{BaseURL: "ftp://x", APIKey: "k"},
		{BaseURL: "https://x"},
		{BaseURL: "https://x", OAuthURL: "nope", APIKey: "k"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	c, err := New(Config{BaseURL: "https://api.test:7300/", OAuthURL: "https://auth.test:7400/base/", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.APIURL("/api/v1/version"); got != "https://api.test:7300/api/v1/version" {
		t.Errorf("APIURL %s", got)
	}
	if got := c.OAuthEndpoint("/oauth/v1/token"); got != "https://auth.test:7400/base/oauth/v1/token" {
		t.Errorf("OAuthEndpoint %s", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := New(Config{BaseURL: "https://api.test:7300", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.OAuthEndpoint("/oauth/v1/token"); got != "https://api.test:7300/oauth/v1/token" {
		t.Errorf("OAuth URL defaults to %s, want the API one", got)
	}
	if c.hc == nil || c.hc == http.DefaultClient || c.hc.Timeout != 30*time.Second {
		t.Errorf("default HTTP client %+v, want an own one with a 30 s timeout", c.hc)
	}
	if d := time.Since(c.Now()); d < 0 || d > time.Minute {
		t.Errorf("default clock is %s off", d)
	}
	if c.APIKey() != "k" {
		t.Errorf("APIKey %q", c.APIKey())
	}
}

func TestUserAgentOnEveryRequest(t *testing.T) {
	mt := httpmock.NewMockTransport()
	c, err := New(Config{BaseURL: testBase, APIKey: testKey, UserAgent: "paragon-test/1", HTTPClient: &http.Client{Transport: mt}})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		seen++
		if ua := req.Header.Get("User-Agent"); ua != "paragon-test/1" {
			t.Errorf("%s %s: User-Agent %q", req.Method, req.URL.Path, ua)
		}
		return jsonResp(200, `{"device_code":"DC","access_token":"A","token":{"access_token":"U"},"items":[]}`), nil
	})
	ctx := context.Background()
	if _, err := c.Register(ctx, RegisterRequest{ClientID: "d"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoginToken(ctx, LoginRequest{UserID: "u", Password: "p", Untrusted: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Session(StaticTokenSource(&Token{AccessToken: "A"})).ListUsers(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", testBase+"/api/v1/version", nil)
	resp, err := c.Session(StaticTokenSource(&Token{AccessToken: "A"})).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get("User-Agent") != "" {
		t.Error("Session.Do set User-Agent on the caller's request")
	}
	if seen != 5 {
		t.Errorf("%d requests, want 5", seen)
	}
}
