package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	devSrc := c.deviceTokenSource("dev-1", key, SourceConfig{Token: dev})
	user, err := c.LoginToken(ctx, LoginRequest{UserID: "alice", Password: password, DeviceToken: devSrc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoginToken(ctx, LoginRequest{AuthType: AuthCardID, UserID: cardID, DeviceToken: devSrc, UseGET: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoginToken(ctx, LoginRequest{UserID: "alice", Password: password, Untrusted: true, UseGET: true}); err != nil {
		t.Fatal(err)
	}
	s := c.Session(c.UserTokenSource(SourceConfig{Token: user}))
	if _, err := s.ListUsers(ctx, 5); err != nil { // 401, refresh, retry
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, NewUser{Username: "dave", FullName: "Dave D", Password: newPW, CardID: newCard}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SubmitDocument(ctx, PrintJob{Title: "t", Data: []byte("%PDF- " + password)}); err != nil {
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
	if want := "https://h/api/v1/login?authtype=0&userid=alice&password=[redacted]&refresh_token=[redacted]"; got != want {
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

// TestDebugTransportAdversarial sends secrets in places a careless redactor
// misses: query strings, camelCase and nested JSON, form bodies, cookies,
// URL headers and fragments, custom token headers, text bodies.
func TestDebugTransportAdversarial(t *testing.T) {
	const sec = "S3CRET"
	n := 0
	next := func() string { n++; return fmt.Sprintf("%s%02d", sec, n) }
	type exchange struct {
		method, url, reqCT, reqBody string
		reqHeader                   http.Header
		respCT, respBody            string
		respHeader                  http.Header
		visible                     []string // what the log must still show
	}
	cases := map[string]exchange{
		"query tokens": {method: "GET", url: testBase + "/api/v1/x?access_token=" + next() + "&Refresh-Token=" + next() +
			"&api_key=" + next() + "&key=" + next() + "&apiKey=" + next() + "&token=" + next() + "&pageToken=page-2&maxrecords=5",
			visible: []string{"pageToken=page-2", "maxrecords=5"}},
		"query fragment and user info": {method: "GET", url: "https://user:" + next() + "@paragon.test/cb?state=st#access_token=" + next() + "&token_type=Bearer",
			visible: []string{"state=st", "token_type=Bearer", "#access_token=[redacted]"}},
		"form body": {method: "POST", url: testBase + "/oauth/v1/token", reqCT: "application/x-www-form-urlencoded; charset=utf-8",
			reqBody: "grant_type=refresh_token&client_id=api&refresh_token=" + next() + "&device_code=" + next() + "&password=" + next() +
				"&client_secret=" + next() + "&Client_Secret=" + next() + "&detailtype=3&detaildata=" + next(),
			visible: []string{"grant_type=refresh_token", "client_id=api"}},
		"nested camelCase JSON": {method: "POST", url: testBase + "/x", reqCT: "application/json",
			reqBody: `{"auth":{"accessToken":"` + next() + `","refreshToken":"` + next() + `","tokenType":"Bearer","list":[{"id_token":"` + next() + `"}]},` +
				`"clientSecret":"` + next() + `","privateKey":"` + next() + `","refresh_tokens":["` + next() + `"],"user":"alice"}`,
			respCT: "application/vnd.paragon+json", respBody: `{"token":"` + next() + `","data":{"deviceToken":"` + next() + `","apiKey":"` + next() +
				`","signature":"` + next() + `"},"nextPageToken":"np-1","expires_in":"3600"}`,
			visible: []string{`"user":"alice"`, `"tokenType":"Bearer"`, `"nextPageToken":"np-1"`, `"expires_in":"3600"`}},
		"headers": {method: "GET", url: testBase + "/y", reqHeader: http.Header{
			"Cookie": {"sid=" + next()}, "X-Auth-Token": {next()}, "x-api-key": {next()}, "Hcp-Request-Signature": {next()},
			"Authorization": {"Basic " + next()}, "X-Session-Id": {next()}, "Accept": {"application/json"}},
			respHeader: http.Header{"Set-Cookie": {"a=" + next(), "b=" + next()}, "Location": {testBase + "/next?refresh_token=" + next() + "&page=2"},
				"Www-Authenticate": {`Bearer error="invalid_token"`}},
			visible: []string{"Accept: application/json", "Authorization: Basic [redacted]", `Bearer error="invalid_token"`, "page=2"}},
		"text bodies": {method: "POST", url: testBase + "/z", reqCT: "text/plain", reqBody: "my Api-Key is " + next(),
			respCT: "text/html", respBody: "<p>your refreshToken: " + next() + "</p>"},
		"echoed elsewhere": {method: "GET", url: testBase + "/admin/api/keys", reqHeader: http.Header{"X-Api-Key": {"KEY-" + sec + "-echo"},
			"Authorization": {"Bearer TOK-" + sec + "/+="}},
			respCT: "application/json", respBody: `{"items":[{"name":"default","value":"KEY-` + sec + `-echo"}],` +
				`"error_description":"token TOK-` + sec + `/+= is revoked","link":"https://x/?k=TOK-` + sec + `%2F%2B%3D"}`,
			visible: []string{`"name":"default"`, `"value":"[redacted]"`}},
		"no content type": {method: "POST", url: testBase + "/w", reqBody: "password=" + next(),
			respBody: `{"access_token":"` + next() + `"}`},
	}
	for name, ex := range cases {
		t.Run(name, func(t *testing.T) {
			mt := httpmock.NewMockTransport()
			mt.RegisterNoResponder(func(*http.Request) (*http.Response, error) {
				r := httpmock.NewStringResponse(200, ex.respBody)
				for k, vs := range ex.respHeader {
					r.Header[k] = vs
				}
				if ex.respCT != "" {
					r.Header.Set("Content-Type", ex.respCT)
				}
				return r, nil
			})
			var log bytes.Buffer
			req, err := http.NewRequest(ex.method, ex.url, strings.NewReader(ex.reqBody))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range ex.reqHeader {
				req.Header[k] = vs
			}
			if ex.reqCT != "" {
				req.Header.Set("Content-Type", ex.reqCT)
			}
			resp, err := (&DebugTransport{Base: mt, Log: &log}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != ex.respBody {
				t.Errorf("caller got body %q, want %q", b, ex.respBody)
			}
			out := log.String()
			if i := strings.Index(out, sec); i >= 0 {
				t.Errorf("a secret survived at %q", out[max(0, i-30):min(len(out), i+12)])
			}
			for _, v := range ex.visible {
				if !strings.Contains(out, v) {
					t.Errorf("log lacks %q", v)
				}
			}
			if !strings.Contains(out, Mask) && !strings.Contains(out, "not shown") {
				t.Error("nothing was masked or withheld")
			}
			if t.Failed() {
				t.Logf("log:\n%s", out)
			}
		})
	}
}
