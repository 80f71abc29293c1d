package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
)

func TestLoginPOSTWithDeviceToken(t *testing.T) {
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	mt.RegisterResponder("POST", testBase+"/api/v1/login", func(req *http.Request) (*http.Response, error) {
		_, f := readForm(t, req)
		if f.Get("authtype") != "0" || f.Get("userid") != "alice" || f.Get("password") != "wonderland" {
			t.Errorf("form %v", f)
		}
		if req.Header.Get("X-Api-Key") != testKey || req.Header.Get("Authorization") != "Bearer DT" {
			t.Errorf("headers %v", req.Header)
		}
		return jsonResp(200, `{"token":`+tokenJSON("UA", "UR")+`}`), nil
	})
	tok, err := c.LoginToken(context.Background(), LoginRequest{UserID: "alice", Password: "wonderland",
		DeviceToken: StaticTokenSource(&Token{AccessToken: "DT"})})
	if err != nil {
		t.Fatal(err)
	}
	want := Token{AccessToken: "UA", RefreshToken: "UR", TokenType: "Bearer", Expiry: clk.Now().Add(time.Hour)}
	if *tok != want {
		t.Errorf("token %+v, want %+v", *tok, want)
	}
}

func TestLoginGETUntrustedCardID(t *testing.T) {
	c, mt := newMockClient(t, nil, nil)
	mt.RegisterResponder("GET", testBase+"/api/v1/login", func(req *http.Request) (*http.Response, error) {
		q := req.URL.Query()
		if q.Get("authtype") != "1" || q.Get("userid") != "CARD-0001" || q.Has("password") {
			t.Errorf("query %v", q)
		}
		if req.Header.Get("Authorization") != "" {
			t.Error("untrusted login sent a device token")
		}
		return jsonResp(200, `{"token":`+tokenJSON("UA", "UR")+`}`), nil
	})
	tok, err := c.LoginToken(context.Background(), LoginRequest{AuthType: AuthCardID, UserID: "CARD-0001", Untrusted: true, UseGET: true})
	if err != nil || tok.AccessToken != "UA" {
		t.Fatalf("%+v %v", tok, err)
	}
}

func TestLoginErrors(t *testing.T) {
	cases := []struct {
		name   string
		resp   *http.Response
		want   error
		retryA time.Duration
	}{
		{"bad password", jsonResp(401, `{"error":"invalid_credentials","error_description":"no"}`), ErrInvalidCredentials, 0},
		{"throttled", func() *http.Response {
			r := jsonResp(429, `{"error":"too_many_attempts"}`)
			r.Header.Set("Retry-After", "120")
			return r
		}(), ErrTooManyAttempts, 2 * time.Minute},
		{"untrusted device", jsonResp(403, `{"error":"untrusted_device"}`), ErrDeviceNotTrusted, 0},
		{"device token required", jsonResp(403, `{"error":"device_token_required"}`), ErrDeviceNotTrusted, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, mt := newMockClient(t, nil, nil)
			mt.RegisterResponder("POST", testBase+"/api/v1/login", httpmock.ResponderFromResponse(tc.resp))
			_, err := c.LoginToken(context.Background(), LoginRequest{UserID: "alice", Password: "secret-pw",
				DeviceToken: StaticTokenSource(&Token{AccessToken: "DT"})})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.RetryAfter != tc.retryA {
				t.Errorf("APIError %+v", ae)
			}
			if containsAny(err.Error(), "secret-pw", "DT ") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestLoginRefreshesExpiredDeviceTokenFirst(t *testing.T) {
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	key, _ := GenerateDeviceKey()
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", func(req *http.Request) (*http.Response, error) {
		_, f := readForm(t, req)
		if f.Get("client_id") != "dev-1" || f.Get("refresh_token") != "DR1" {
			t.Errorf("device refresh form %v", f)
		}
		return jsonResp(200, tokenJSON("DT2", "DR2")), nil
	})
	mt.RegisterResponder("POST", testBase+"/api/v1/login", func(req *http.Request) (*http.Response, error) {
		if req.Header.Get("Authorization") != "Bearer DT2" {
			t.Errorf("login carried %q, want the refreshed device token", req.Header.Get("Authorization"))
		}
		return jsonResp(200, `{"token":`+tokenJSON("UA", "UR")+`}`), nil
	})
	var saved []*Token
	dev := c.deviceTokenSource("dev-1", key, SourceConfig{
		Token: &Token{AccessToken: "DT1", RefreshToken: "DR1", Expiry: clk.Now().Add(-time.Minute)},
		Store: funcStore{save: func(t *Token) error { saved = append(saved, t); return nil }},
	})
	if _, err := c.LoginToken(context.Background(), LoginRequest{UserID: "alice", Password: "pw", DeviceToken: dev}); err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || saved[0].RefreshToken != "DR2" {
		t.Errorf("persisted %v", saved)
	}
}

func TestLoginRetriesOnceWithForcedDeviceRefresh(t *testing.T) {
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", httpmock.ResponderFromResponse(jsonResp(200, tokenJSON("DT2", "DR2"))))
	logins := 0
	mt.RegisterResponder("POST", testBase+"/api/v1/login", func(req *http.Request) (*http.Response, error) {
		logins++
		if req.Header.Get("Authorization") == "Bearer DT1" {
			return jsonResp(403, `{"error":"untrusted_device"}`), nil
		}
		return jsonResp(200, `{"token":`+tokenJSON("UA", "UR")+`}`), nil
	})
	dev := c.deviceTokenSource("dev-1", nil, SourceConfig{
		Token: &Token{AccessToken: "DT1", RefreshToken: "DR1", Expiry: clk.Now().Add(time.Hour)}})
	tok, err := c.LoginToken(context.Background(), LoginRequest{UserID: "alice", Password: "pw", DeviceToken: dev})
	if err != nil || tok.AccessToken != "UA" || logins != 2 {
		t.Fatalf("tok %+v err %v logins %d", tok, err, logins)
	}
}

func TestLoginRequiresDeviceTokenOrUntrusted(t *testing.T) {
	c, _ := newMockClient(t, nil, nil)
	if _, err := c.LoginToken(context.Background(), LoginRequest{UserID: "alice", Password: "pw"}); err == nil {
		t.Fatal("login without device token and without Untrusted was attempted")
	}
}

func TestLoginUntrustedKeepsTheServersAnswerFirst(t *testing.T) {
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", httpmock.ResponderFromResponse(jsonResp(400, `{"error":"invalid_grant","error_description":"device revoked"}`)))
	mt.RegisterResponder("POST", testBase+"/api/v1/login", httpmock.ResponderFromResponse(jsonResp(403, `{"error":"untrusted_device","error_description":"not trusted"}`)))
	dev := c.deviceTokenSource("dev-1", nil, SourceConfig{
		Token: &Token{AccessToken: "DT1", RefreshToken: "DR1", Expiry: clk.Now().Add(time.Hour)}})
	_, err := c.LoginToken(context.Background(), LoginRequest{UserID: "alice", Password: "pw", DeviceToken: dev})
	if !errors.Is(err, ErrDeviceNotTrusted) {
		t.Fatalf("err = %v, want ErrDeviceNotTrusted", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Code != "untrusted_device" {
		t.Fatalf("errors.As found %+v, want the server's 403 untrusted_device", ae)
	}
	if !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "untrusted_device") {
		t.Errorf("error %q does not name both answers", err)
	}
}

func TestLoginSavesInTheStoreAndReturnsTheSession(t *testing.T) {
	c, mt := newMockClient(t, newFakeClock(), nil)
	mt.RegisterResponder("POST", testBase+"/api/v1/login", httpmock.ResponderFromResponse(jsonResp(200, `{"token":`+tokenJSON("UA", "UR")+`}`)))
	var saved []*Token
	store := funcStore{save: func(tok *Token) error { saved = append(saved, tok); return nil }}
	dev := c.Device("dev-1", nil, SourceConfig{Token: &Token{AccessToken: "DT"}})
	sess, err := c.Login(context.Background(), LoginRequest{UserID: "alice", Password: "pw", Device: dev, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || saved[0].AccessToken != "UA" {
		t.Errorf("saved %v", saved)
	}
	if tok, err := sess.Source().Token(context.Background()); err != nil || tok.AccessToken != "UA" {
		t.Errorf("session token %v %v", tok, err)
	}
	broken := funcStore{save: func(*Token) error { return errors.New("disk full") }}
	if _, err := c.Login(context.Background(), LoginRequest{UserID: "alice", Password: "pw", Device: dev, Store: broken}); !errors.Is(err, ErrPersist) {
		t.Errorf("a login that cannot be saved: %v, want ErrPersist", err)
	}
}
