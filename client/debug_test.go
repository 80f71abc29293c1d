package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
)

// TestDebugTransportMasksEverySecret drives every kind of request through a
// DebugTransport and checks that no secret the client sent or received
// appears in the log, while the log still shows what happened.
func TestDebugTransportMasksEverySecret(t *testing.T) {
	const (
		apiKey   = "KEY-sekrit-4f9a"
		devCode  = "DEVCODE-7c1e"
		devAT    = "DEVACCESS-11aa"
		devRT    = "DEVREFRESH-22bb"
		userAT   = "USERACCESS-33cc"
		userRT   = "USERREFRESH-44dd"
		userAT2  = "USERACCESS2-55ee"
		userRT2  = "USERREFRESH2-66ff"
		password = "pw-wonderland-99"
		cardID   = "CARD-SECRET-0001"
		newPW    = "new-user-pw-123"
		newCard  = "NEWCARD-777"
	)
	mt := httpmock.NewMockTransport()
	var sigMu sync.Mutex
	var sigs []string
	record := func(req *http.Request) {
		if s := req.Header.Get(SignatureHeader); s != "" {
			sigMu.Lock()
			sigs = append(sigs, s)
			sigMu.Unlock()
		}
	}
	mt.RegisterResponder("POST", testBase+"/oauth/v1/register", func(req *http.Request) (*http.Response, error) {
		record(req)
		return jsonResp(200, `{"device_code":"`+devCode+`","state":"s1","expires_in":259200}`), nil
	})
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", func(req *http.Request) (*http.Response, error) {
		record(req)
		_ = req.ParseForm()
		if req.PostForm.Get("grant_type") == "device_code" {
			return jsonResp(200, tokenJSON(devAT, devRT)), nil
		}
		return jsonResp(200, tokenJSON(userAT2, userRT2)), nil
	})
	mt.RegisterResponder("POST", testBase+"/api/v1/login", httpmock.ResponderFromResponse(jsonResp(200, `{"token":`+tokenJSON(userAT, userRT)+`}`)))
	mt.RegisterResponder("GET", testBase+"/api/v1/login", httpmock.ResponderFromResponse(jsonResp(200, `{"token":`+tokenJSON(userAT, userRT)+`}`)))
	mt.RegisterResponder("GET", testBase+"/api/v1/users/all", func(req *http.Request) (*http.Response, error) {
		if req.Header.Get("Authorization") == "Bearer "+userAT {
			r := jsonResp(401, `{"error":"invalid_token"}`)
			r.Header.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			return r, nil
		}
		return jsonResp(200, `{"items":[{"username":"alice"}]}`), nil
	})
	mt.RegisterResponder("PUT", testBase+"/api/v1/users", httpmock.NewStringResponder(200, ""))
	mt.RegisterResponder("PUT", testBase+"/api/v1/documents", httpmock.ResponderFromResponse(jsonResp(200, `{"id":"d1"}`)))

	var log bytes.Buffer
	clk := newFakeClock()
	c, err := New(Config{BaseURL: testBase, APIKey: apiKey, Now: clk.Now,
		HTTPClient: &http.Client{Transport: &DebugTransport{Base: mt, Log: &log}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key, _ := GenerateDeviceKey()
	reg, err := c.Register(ctx, RegisterRequest{ClientID: "dev-1", Key: key, State: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := c.PollDeviceToken(ctx, PollRequest{ClientID: "dev-1", DeviceCode: reg.DeviceCode, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	devSrc := c.DeviceTokenSource("dev-1", key, SourceConfig{Token: dev})
	user, err := c.Login(ctx, LoginRequest{UserID: "alice", Password: password, DeviceToken: devSrc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, LoginRequest{AuthType: AuthCardID, UserID: cardID, DeviceToken: devSrc, UseGET: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, LoginRequest{UserID: "alice", Password: password, Untrusted: true, UseGET: true}); err != nil {
		t.Fatal(err)
	}
	s := c.Session(c.UserTokenSource(SourceConfig{Token: user}))
	if _, err := s.ListUsers(ctx, 5); err != nil { // 401, refresh, retry
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, NewUser{Username: "dave", FullName: "Dave D", Password: newPW, CardID: newCard}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SubmitDocument(ctx, Document{Title: "t", Data: []byte("%PDF- " + password)}); err != nil {
		t.Fatal(err)
	}

	out := log.String()
	secrets := []string{apiKey, devCode, devAT, devRT, userAT, userRT, userAT2, userRT2, password, cardID, newPW, newCard,
		MarshalPrivateKey(key)[len("ed25519:"):]}
	secrets = append(secrets, sigs...)
	if len(sigs) < 2 {
		t.Fatalf("only %d signed requests seen", len(sigs))
	}
	for _, sec := range secrets {
		for _, form := range []string{sec, url.QueryEscape(sec)} {
			if strings.Contains(out, form) {
				t.Errorf("secret %q survived in the log", form)
			}
		}
	}
	for _, want := range []string{
		"> POST " + testBase + "/oauth/v1/register", "> GET " + testBase + "/api/v1/login?authtype=1",
		"userid=[redacted]", "password=[redacted]", "Authorization: Bearer [redacted]", "X-Api-Key: [redacted]",
		http.CanonicalHeaderKey(SignatureHeader) + ": [redacted]", `"access_token":"[redacted]"`, `"device_code":"[redacted]"`,
		"< 401 Unauthorized", "< 200 OK", "userid=alice", "detaildata=Dave+D", "[multipart body",
		"public_key=",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	}
}

func TestRedactURL(t *testing.T) {
	u, _ := url.Parse("https://u:p@h/api/v1/login?authtype=0&userid=alice&password=x%26y&refresh_token=r")
	got := RedactURL(u)
	if want := "https://h/api/v1/login?authtype=0&password=[redacted]&refresh_token=[redacted]&userid=alice"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestDebugTransportLeavesRequestUsable(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder("POST", testBase+"/x", func(req *http.Request) (*http.Response, error) {
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(req.Body)
		return httpmock.NewStringResponse(200, "echo:"+b.String()), nil
	})
	var log bytes.Buffer
	hc := &http.Client{Transport: &DebugTransport{Base: mt, Log: &log}, Timeout: time.Second}
	// A body without GetBody is read for the log and still sent in full.
	req, _ := http.NewRequest("POST", testBase+"/x", struct{ *strings.Reader }{strings.NewReader("a=1")})
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(bytes.Buffer)
	_, _ = b.ReadFrom(resp.Body)
	if b.String() != "echo:a=1" {
		t.Errorf("response body %q", b)
	}
	if !strings.Contains(log.String(), "a=1") {
		t.Errorf("log %q", log.String())
	}
}
