package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// retryFixture: a session whose source holds A0 (valid by the clock) and
// refreshes to A1, and a mock endpoint answering with first for A0.
func retryFixture(t *testing.T, first *http.Response) (*Session, *int, *[]string, func() int32) {
	t.Helper()
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	refresh, n := stubRefresh(clk, nil)
	src := c.UserTokenSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(time.Hour)}, Refresh: refresh})
	calls := 0
	var bodies []string
	mt.RegisterResponder("POST", testBase+"/api/v1/thing", func(req *http.Request) (*http.Response, error) {
		calls++
		var b []byte
		if req.Body != nil {
			b, _ = io.ReadAll(req.Body)
		}
		bodies = append(bodies, string(b))
		if req.Header.Get("X-Api-Key") != testKey {
			t.Errorf("call %d without API key", calls)
		}
		if req.Header.Get("Authorization") == "Bearer A0" {
			return first, nil
		}
		return jsonResp(200, `{"ok":true}`), nil
	})
	return c.Session(src), &calls, &bodies, func() int32 { return n.Load() }
}

func TestTransportRetriesOnceOn401And403(t *testing.T) {
	for _, first := range []*http.Response{
		jsonResp(401, `{"error":"invalid_token"}`),
		jsonResp(403, `{"error":"invalid_token"}`),
		jsonResp(403, `forbidden`), // a real server's bare 403
	} {
		s, calls, bodies, refreshes := retryFixture(t, first)
		req, _ := http.NewRequest("POST", testBase+"/api/v1/thing", strings.NewReader("a=1&b=2"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := s.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || *calls != 2 || refreshes() != 1 {
			t.Fatalf("first answer %d: status %d, calls %d, refreshes %d", first.StatusCode, resp.StatusCode, *calls, refreshes())
		}
		if (*bodies)[0] != "a=1&b=2" || (*bodies)[1] != "a=1&b=2" {
			t.Errorf("bodies %q: the retry must replay the same body", *bodies)
		}
		// The caller's request is untouched.
		if len(req.Header) != 1 || req.Header.Get("Authorization") != "" || req.Header.Get("X-Api-Key") != "" {
			t.Errorf("caller's request was modified: %v", req.Header)
		}
	}
}

func TestTransportRetriesOnlyOnce(t *testing.T) {
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	refresh, n := stubRefresh(clk, nil)
	src := c.UserTokenSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(time.Hour)}, Refresh: refresh})
	calls := 0
	mt.RegisterResponder("GET", testBase+"/api/v1/version", func(*http.Request) (*http.Response, error) {
		calls++
		return jsonResp(401, `{"error":"invalid_token"}`), nil
	})
	_, err := c.Session(src).Version(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Code != "invalid_token" {
		t.Fatalf("err %v", err)
	}
	if calls != 2 || n.Load() != 1 {
		t.Fatalf("calls %d refreshes %d, want 2 and 1", calls, n.Load())
	}
}

func TestTransportNoRetryForNonReplayableBody(t *testing.T) {
	s, calls, _, refreshes := retryFixture(t, jsonResp(401, `{"error":"invalid_token"}`))
	req, _ := http.NewRequest("POST", testBase+"/api/v1/thing", io.NopCloser(bytes.NewReader([]byte("x=1"))))
	if req.GetBody != nil {
		t.Fatal("test setup: request is replayable")
	}
	resp, err := s.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || *calls != 1 || refreshes() != 0 {
		t.Fatalf("status %d calls %d refreshes %d, want the 401 with no retry", resp.StatusCode, *calls, refreshes())
	}
}

func TestTransportNoRetryFor403ThatIsNotAboutTheToken(t *testing.T) {
	s, calls, _, refreshes := retryFixture(t, jsonResp(403, `{"error":"forbidden","error_description":"admins only"}`))
	req, _ := http.NewRequest("POST", testBase+"/api/v1/thing", nil)
	resp, err := s.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || *calls != 1 || refreshes() != 0 || !strings.Contains(string(b), "admins only") {
		t.Fatalf("status %d calls %d refreshes %d body %q", resp.StatusCode, *calls, refreshes(), b)
	}
}

func TestTransportFailedRefreshIsLoginRequired(t *testing.T) {
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	mt.RegisterResponder("GET", testBase+"/api/v1/version", func(*http.Request) (*http.Response, error) {
		return jsonResp(401, `{"error":"invalid_token"}`), nil
	})
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", func(*http.Request) (*http.Response, error) {
		return oauthErr("invalid_grant"), nil
	})
	src := c.UserTokenSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(time.Hour)}})
	_, err := c.Session(src).Version(context.Background())
	if !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("err %v, want ErrLoginRequired", err)
	}
	if containsAny(err.Error(), "A0", "R0", testKey) {
		t.Errorf("error leaks a secret: %v", err)
	}
}

func TestTransportKeepsCredentialsToConfiguredHosts(t *testing.T) {
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	mt.RegisterResponder("GET", "https://elsewhere.test/x", func(req *http.Request) (*http.Response, error) {
		if req.Header.Get("Authorization") != "" || req.Header.Get("X-Api-Key") != "" {
			t.Error("credentials sent to another host")
		}
		return jsonResp(200, `{}`), nil
	})
	s := c.Session(StaticTokenSource(&Token{AccessToken: "A0"}))
	req, _ := http.NewRequest("GET", "https://elsewhere.test/x", nil)
	resp, err := s.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestPingSendsNoCredentials(t *testing.T) {
	c, mt := newMockClient(t, nil, nil)
	status := 200
	mt.RegisterResponder("HEAD", testBase+"/api/v1/account", func(req *http.Request) (*http.Response, error) {
		if req.Header.Get("X-Api-Key") != "" || req.Header.Get("Authorization") != "" {
			t.Errorf("HEAD /api/v1/account sent credentials: %v", req.Header)
		}
		return jsonResp(status, ""), nil
	})
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	status = 503
	var ae *APIError
	if err := c.Ping(context.Background()); !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Fatalf("err %v, want the 503", err)
	}
}
