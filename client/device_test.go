package client

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
)

func TestRegisterSendsEveryParameterAndSigns(t *testing.T) {
	c, mt := newMockClient(t, newFakeClock(), nil)
	key, _ := GenerateDeviceKey()
	id := NewDeviceID()
	mt.RegisterResponder("POST", testBase+"/oauth/v1/register", func(req *http.Request) (*http.Response, error) {
		body, f := readForm(t, req)
		want := map[string]string{
			"client_id": id, "client_secret": testKey, "client_type": ClientTypeServer,
			"response_type": "device_code", "client_description": "build box", "state": "nonce-1",
			"public_key": PublicKeyString(key), "key_type": "ed25519",
		}
		for k, v := range want {
			if f.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, f.Get(k), v)
			}
		}
		if len(f) != len(want) {
			t.Errorf("form has %d fields, want %d: %v", len(f), len(want), f)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q", ct)
		}
		if !verifySig(req, body, key.Public().(ed25519.PublicKey)) {
			t.Error("signature does not verify over the exact body")
		}
		return jsonResp(200, `{"device_code":"DC","state":"nonce-1","expires_in":259200,"interval":7}`), nil
	})
	reg, err := c.Register(context.Background(), RegisterRequest{ClientID: id, ClientType: ClientTypeServer,
		Description: "build box", State: "nonce-1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if reg.DeviceCode != "DC" || reg.ExpiresIn != 72*time.Hour || reg.Interval != 7*time.Second || !reg.Expiry.Equal(c.Now().Add(72*time.Hour)) {
		t.Errorf("registration %+v", reg)
	}
}

func TestRegisterUnsignedWithoutKey(t *testing.T) {
	c, mt := newMockClient(t, nil, nil)
	mt.RegisterResponder("POST", testBase+"/oauth/v1/register", func(req *http.Request) (*http.Response, error) {
		_, f := readForm(t, req)
		if req.Header.Get(SignatureHeader) != "" || f.Has("public_key") || f.Has("key_type") || f.Has("state") {
			t.Errorf("keyless registration sent key material or state: %v", f)
		}
		if f.Get("client_type") != ClientTypeDesktop {
			t.Errorf("default client_type %q", f.Get("client_type"))
		}
		return jsonResp(200, `{"device_code":"DC"}`), nil
	})
	if _, err := c.Register(context.Background(), RegisterRequest{ClientID: "dev"}); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterStateMismatch(t *testing.T) {
	c, mt := newMockClient(t, nil, nil)
	mt.RegisterResponder("POST", testBase+"/oauth/v1/register",
		httpmock.ResponderFromResponse(jsonResp(200, `{"device_code":"DC","state":"other"}`)))
	if _, err := c.Register(context.Background(), RegisterRequest{ClientID: "dev", State: "mine"}); err == nil {
		t.Fatal("a different echoed state was accepted")
	}
}

// pollScript serves the given answers to successive polls, checking each
// poll's fields and signature.
func pollScript(t *testing.T, mt *httpmock.MockTransport, key ed25519.PrivateKey, answers ...*http.Response) *atomic.Int32 {
	var n atomic.Int32
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", func(req *http.Request) (*http.Response, error) {
		i := int(n.Add(1)) - 1
		body, f := readForm(t, req)
		if f.Get("grant_type") != "device_code" || f.Get("device_code") != "DC" || f.Get("client_id") != "dev-1" || f.Get("client_secret") != testKey {
			t.Errorf("poll %d: form %v", i, f)
		}
		if key != nil && !verifySig(req, body, key.Public().(ed25519.PublicKey)) {
			t.Errorf("poll %d: signature does not verify", i)
		}
		if i >= len(answers) {
			t.Errorf("poll %d: more polls than scripted", i)
			return oauthErr("invalid_grant"), nil
		}
		return answers[i], nil
	})
	return &n
}

func TestPollOutcomes(t *testing.T) {
	cases := []struct {
		name      string
		answers   []*http.Response
		interval  time.Duration
		wantErr   error
		wantWaits []time.Duration
		wantEv    []string
	}{
		{"pending then token", []*http.Response{oauthErr("authorization_pending"), oauthErr("authorization_pending"), jsonResp(200, tokenJSON("DT", "DR"))},
			0, nil, []time.Duration{5 * time.Second, 5 * time.Second}, []string{"authorization_pending", "authorization_pending"}},
		{"slow_down adds 5s to all later polls", []*http.Response{oauthErr("authorization_pending"), oauthErr("slow_down"), oauthErr("authorization_pending"),
			oauthErr("slow_down"), oauthErr("authorization_pending"), jsonResp(200, tokenJSON("DT", "DR"))},
			0, nil, []time.Duration{5 * time.Second, 10 * time.Second, 10 * time.Second, 15 * time.Second, 15 * time.Second},
			[]string{"authorization_pending", "slow_down", "authorization_pending", "slow_down", "authorization_pending"}},
		{"custom interval", []*http.Response{oauthErr("slow_down"), jsonResp(200, tokenJSON("DT", "DR"))},
			2 * time.Second, nil, []time.Duration{7 * time.Second}, []string{"slow_down"}},
		{"access_denied", []*http.Response{oauthErr("authorization_pending"), oauthErr("access_denied")}, 0, ErrAccessDenied,
			[]time.Duration{5 * time.Second}, []string{"authorization_pending"}},
		{"expired_token", []*http.Response{oauthErr("expired_token")}, 0, ErrDeviceCodeExpired, nil, nil},
		{"invalid_grant", []*http.Response{oauthErr("invalid_grant")}, 0, ErrDeviceCodeInvalid, nil, nil},
		{"transient 503 retried", []*http.Response{jsonResp(503, `{"error":"unavailable"}`), jsonResp(200, tokenJSON("DT", "DR"))},
			0, nil, []time.Duration{5 * time.Second}, []string{"retry"}},
		{"429 waits its Retry-After", []*http.Response{func() *http.Response {
			r := jsonResp(429, `{"error":"too_many_requests"}`)
			r.Header.Set("Retry-After", "12")
			return r
		}(), jsonResp(200, tokenJSON("DT", "DR"))},
			0, nil, []time.Duration{12 * time.Second}, []string{"retry"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sl := &sleepRecorder{}
			c, mt := newMockClient(t, newFakeClock(), sl)
			key, _ := GenerateDeviceKey()
			n := pollScript(t, mt, key, tc.answers...)
			var events []string
			tok, err := c.PollDeviceToken(context.Background(), PollRequest{ClientID: "dev-1", DeviceCode: "DC", Key: key,
				Interval: tc.interval, Progress: func(e PollEvent) {
					events = append(events, e.Status)
					if e.Attempt != len(events) {
						t.Errorf("event attempt %d, want %d", e.Attempt, len(events))
					}
				}})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 400 {
					t.Errorf("error does not wrap the *APIError: %v", err)
				}
			} else if err != nil || tok.AccessToken != "DT" || tok.RefreshToken != "DR" {
				t.Fatalf("tok %+v, err %v", tok, err)
			}
			if !slices.Equal(sl.waits, tc.wantWaits) {
				t.Errorf("waits %v, want %v", sl.waits, tc.wantWaits)
			}
			if !slices.Equal(events, tc.wantEv) {
				t.Errorf("events %v, want %v", events, tc.wantEv)
			}
			if int(n.Load()) != len(tc.answers) {
				t.Errorf("%d polls, want %d", n.Load(), len(tc.answers))
			}
		})
	}
}

func TestPollGivesUpAfterRepeatedTransientFailures(t *testing.T) {
	sl := &sleepRecorder{}
	c, mt := newMockClient(t, nil, sl)
	var answers []*http.Response
	for range maxPollTransient + 1 {
		answers = append(answers, jsonResp(502, `{"error":"bad_gateway"}`))
	}
	pollScript(t, mt, nil, answers...)
	_, err := c.PollDeviceToken(context.Background(), PollRequest{ClientID: "dev-1", DeviceCode: "DC"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 502 {
		t.Fatalf("err = %v, want the 502", err)
	}
	if len(sl.waits) != maxPollTransient {
		t.Errorf("%d waits, want %d", len(sl.waits), maxPollTransient)
	}
}

func TestPollContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sl := &sleepRecorder{before: func(n int) {
		if n == 2 {
			cancel()
		}
	}}
	c, mt := newMockClient(t, nil, sl)
	n := pollScript(t, mt, nil, oauthErr("authorization_pending"), oauthErr("authorization_pending"), oauthErr("authorization_pending"))
	_, err := c.PollDeviceToken(ctx, PollRequest{ClientID: "dev-1", DeviceCode: "DC"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d polls after cancel at the second wait, want 2", n.Load())
	}
}

func TestPollDefaultSleepHonoursContext(t *testing.T) {
	c, mt := newMockClient(t, nil, nil) // real timer
	pollScript(t, mt, nil, oauthErr("authorization_pending"))
	ctx, cancel := context.WithCancel(context.Background())
	_, err := c.PollDeviceToken(ctx, PollRequest{ClientID: "dev-1", DeviceCode: "DC", Interval: time.Hour,
		Progress: func(PollEvent) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRefreshClientIDChoice(t *testing.T) {
	clk := newFakeClock()
	c, mt := newMockClient(t, clk, nil)
	key, _ := GenerateDeviceKey()
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", func(req *http.Request) (*http.Response, error) {
		body, f := readForm(t, req)
		if f.Get("grant_type") != "refresh_token" || f.Get("client_secret") != testKey {
			t.Errorf("form %v", f)
		}
		switch f.Get("client_id") {
		case "api":
			if req.Header.Get(SignatureHeader) != "" {
				t.Error("user refresh was signed")
			}
			if f.Get("refresh_token") == "dead" {
				return oauthErr("invalid_grant"), nil
			}
			return jsonResp(200, tokenJSON("UA2", "UR2")), nil
		case "dev-1":
			if !verifySig(req, body, key.Public().(ed25519.PublicKey)) {
				t.Error("device refresh signature does not verify")
			}
			if f.Get("refresh_token") == "dead" {
				return oauthErr("invalid_grant"), nil
			}
			// A server that does not rotate: no refresh_token in the answer.
			return jsonResp(200, `{"access_token":"DA2","expires_in":3600}`), nil
		}
		t.Errorf("client_id %q", f.Get("client_id"))
		return oauthErr("invalid_client"), nil
	})
	ctx := context.Background()
	u, err := c.RefreshUser(ctx, "UR1")
	if err != nil || u.AccessToken != "UA2" || u.RefreshToken != "UR2" || !u.Expiry.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("user refresh: %+v %v", u, err)
	}
	d, err := c.RefreshDevice(ctx, "dev-1", key, "DR1")
	if err != nil || d.AccessToken != "DA2" || d.RefreshToken != "DR1" {
		t.Fatalf("device refresh (old refresh token kept when none is sent): %+v %v", d, err)
	}
	if _, err := c.RefreshUser(ctx, "dead"); !errors.Is(err, ErrLoginRequired) || errors.Is(err, ErrDeviceNotTrusted) {
		t.Errorf("dead user refresh: %v, want ErrLoginRequired", err)
	}
	if _, err := c.RefreshDevice(ctx, "dev-1", key, "dead"); !errors.Is(err, ErrDeviceNotTrusted) || errors.Is(err, ErrLoginRequired) {
		t.Errorf("dead device refresh: %v, want ErrDeviceNotTrusted", err)
	}
	if _, err := c.RefreshDevice(ctx, "api", key, "DR1"); err == nil {
		t.Error("RefreshDevice accepted client_id api")
	}
	if _, err := c.RefreshUser(ctx, ""); !errors.Is(err, ErrLoginRequired) {
		t.Errorf("empty refresh token: %v", err)
	}
}

func TestOAuthRequestsGoToOAuthURL(t *testing.T) {
	mt := httpmock.NewMockTransport()
	c, err := New(Config{BaseURL: "https://api.test", OAuthURL: "https://auth.test:7400", APIKey: testKey,
		HTTPClient: &http.Client{Transport: mt}})
	if err != nil {
		t.Fatal(err)
	}
	mt.RegisterResponder("POST", "https://auth.test:7400/oauth/v1/register", httpmock.ResponderFromResponse(jsonResp(200, `{"device_code":"DC"}`)))
	mt.RegisterResponder("POST", "https://auth.test:7400/oauth/v1/token", httpmock.ResponderFromResponse(jsonResp(200, tokenJSON("A", "R"))))
	mt.RegisterResponder("POST", "https://api.test/api/v1/login", httpmock.ResponderFromResponse(jsonResp(200, `{"token":`+tokenJSON("U", "UR")+`}`)))
	ctx := context.Background()
	if _, err := c.Register(ctx, RegisterRequest{ClientID: "d"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RefreshUser(ctx, "R0"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoginToken(ctx, LoginRequest{UserID: "alice", Password: "pw", Untrusted: true}); err != nil {
		t.Fatal(err)
	}
	if mt.GetTotalCallCount() != 3 {
		t.Errorf("calls %v", mt.GetCallCountInfo())
	}
}

func TestPollRetriesNetworkErrorsButNotCertificateErrors(t *testing.T) {
	sl := &sleepRecorder{}
	c, mt := newMockClient(t, nil, sl)
	calls := 0
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", func(*http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}
		return jsonResp(200, tokenJSON("DT", "DR")), nil
	})
	if _, err := c.PollDeviceToken(context.Background(), PollRequest{ClientID: "dev-1", DeviceCode: "DC"}); err != nil || calls != 2 {
		t.Fatalf("refused connection not retried: %v, calls %d", err, calls)
	}

	ts := httptest.NewUnstartedServer(http.NotFoundHandler()) // a certificate the client does not trust
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	defer ts.Close()
	sl2 := &sleepRecorder{}
	c2, err := New(Config{BaseURL: ts.URL, APIKey: testKey, Sleep: sl2.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.PollDeviceToken(context.Background(), PollRequest{ClientID: "dev-1", DeviceCode: "DC"})
	if err == nil || len(sl2.waits) != 0 {
		t.Fatalf("certificate error: %v after %d waits, want an error at once", err, len(sl2.waits))
	}
}

// Register without a ClientID makes a new keyed device; Wait polls with its
// id and key at the registration's interval, slows down when told to, and
// saves the device and its token in the Store before returning it.
func TestRegisterNewDeviceAndWait(t *testing.T) {
	sleep := &sleepRecorder{}
	c, mt := newMockClient(t, newFakeClock(), sleep)
	var id string
	var pub ed25519.PublicKey
	mt.RegisterResponder("POST", testBase+"/oauth/v1/register", func(req *http.Request) (*http.Response, error) {
		body, f := readForm(t, req)
		id = f.Get("client_id")
		raw, _ := base64.StdEncoding.DecodeString(f.Get("public_key"))
		pub = ed25519.PublicKey(raw)
		if id == "" || len(raw) != ed25519.PublicKeySize || !verifySig(req, body, pub) {
			t.Errorf("a new device registered as %q with key %q, signed %v", id, f.Get("public_key"), verifySig(req, body, pub))
		}
		return jsonResp(200, `{"device_code":"DC","interval":3}`), nil
	})
	polls := 0
	mt.RegisterResponder("POST", testBase+"/oauth/v1/token", func(req *http.Request) (*http.Response, error) {
		body, f := readForm(t, req)
		if f.Get("client_id") != id || f.Get("device_code") != "DC" || !verifySig(req, body, pub) {
			t.Errorf("poll %v not by the registered device", f)
		}
		if polls++; polls < 3 {
			return oauthErr([]string{"authorization_pending", "slow_down"}[polls-1]), nil
		}
		return jsonResp(200, tokenJSON("DT", "DR")), nil
	})
	var saved []string
	store := &devStore{funcStore: funcStore{save: func(tok *Token) error { saved = append(saved, "token "+tok.AccessToken); return nil }},
		saveDevice: func(sid string, key ed25519.PrivateKey) error {
			saved = append(saved, "device "+sid)
			if !key.Public().(ed25519.PublicKey).Equal(pub) {
				t.Error("saved another key than registered")
			}
			return nil
		}}
	reg, err := c.Register(context.Background(), RegisterRequest{Description: "svc", Store: store})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := reg.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if dev.ID != id || !dev.Key.Public().(ed25519.PublicKey).Equal(pub) || dev.TokenSource().Current().AccessToken != "DT" {
		t.Errorf("device %v", dev)
	}
	if want := []time.Duration{3 * time.Second, 8 * time.Second}; !slices.Equal(sleep.waits, want) {
		t.Errorf("waits %v, want %v (the interval, then 5 s more after slow_down)", sleep.waits, want)
	}
	if want := []string{"device " + id, "token DT"}; !slices.Equal(saved, want) {
		t.Errorf("saved %v, want %v", saved, want)
	}
	if _, err := (&Registration{DeviceCode: "x"}).Wait(context.Background()); err == nil {
		t.Error("a Registration not from Register waited")
	}
}

type devStore struct {
	funcStore
	saveDevice func(string, ed25519.PrivateKey) error
}

func (d *devStore) LoadDevice() (string, ed25519.PrivateKey, error) { return "", nil, nil }
func (d *devStore) SaveDevice(id string, key ed25519.PrivateKey) error {
	return d.saveDevice(id, key)
}

func TestDeviceAndRegistrationPrintNoSecrets(t *testing.T) {
	key, _ := GenerateDeviceKey()
	c, _ := newMockClient(t, nil, nil)
	dev := c.Device("dev-1", key, SourceConfig{Token: &Token{AccessToken: "the-device-token"}})
	reg := &Registration{ClientID: "dev-1", Key: key, DeviceCode: "the-device-code"}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", dev, dev, dev), fmt.Sprintf("%v %+v %#v", reg, reg, reg)} {
		if containsAny(s, "the-device-token", "the-device-code", MarshalPrivateKey(key), string(key)) || !strings.Contains(s, "dev-1") {
			t.Errorf("printed %q", s)
		}
	}
}
