package client

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAnswerErrorMasksWhatTheRequestCarried(t *testing.T) {
	c, err := New(Config{BaseURL: "https://paragon.test", APIKey: "the-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "https://paragon.test/api/v1/users?pin=query-pin-1", strings.NewReader("password=form-pw-1&username=bob"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer the-user-token")
	resp := &http.Response{StatusCode: 400, Request: req, Header: http.Header{}}
	body := `{"error":"bad","error_description":"the-api-key the-user-token query-pin-1 form-pw-1 bob"}`
	e := c.AnswerError(resp, []byte(body))
	if e.Code != "bad" || e.Description != "[redacted] [redacted] [redacted] [redacted] bob" {
		t.Errorf("code %q description %q", e.Code, e.Description)
	}
}

func TestAnswerErrorMasksEveryEncodingOfASecret(t *testing.T) {
	c, err := New(Config{BaseURL: "https://paragon.test", APIKey: "the-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	const pw = `pa ss/w<o>&r"d`
	req, _ := http.NewRequest("POST", "https://paragon.test/api/v1/login", strings.NewReader(url.Values{"password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	forms := []string{
		`pa ss/w\u003co\u003e\u0026r\"d`, // Go's default JSON encoder
		`pa ss\/w<o>&r\"d`,               // encoders that escape /
		url.PathEscape(pw),
		strings.ToLower(url.QueryEscape(pw)),
	}
	// The decoded description holds the forms as they are (a server quoting
	// the secret JSON-escaped inside text that is itself JSON).
	body, _ := json.Marshal(map[string]string{"error": "bad", "error_description": strings.Join(forms, " | ")})
	e := c.AnswerError(&http.Response{StatusCode: 400, Request: req, Header: http.Header{}}, body)
	for _, f := range append(forms, pw) {
		if strings.Contains(e.Description, f) {
			t.Errorf("description %q shows the password as %q", e.Description, f)
		}
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestCheckResponse(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://paragon.test/api/v1/users", nil)
	req.Header.Set("X-Api-Key", "the-api-key")
	req.Header.Set("Authorization", "Bearer the-user-token")
	ok := &closeRecorder{Reader: strings.NewReader(`{"items":[]}`)}
	if err := CheckResponse(&http.Response{StatusCode: 200, Request: req, Body: ok}); err != nil || ok.closed {
		t.Fatalf("2xx: err %v, body closed %v", err, ok.closed)
	}
	if b, _ := io.ReadAll(ok); string(b) != `{"items":[]}` {
		t.Errorf("2xx body consumed: %q left", b)
	}
	body := &closeRecorder{Reader: strings.NewReader(`{"error":"too_many_attempts","error_description":"slow down, the-user-token"}`)}
	err := CheckResponse(&http.Response{StatusCode: 429, Request: req, Body: body, Header: http.Header{"Retry-After": {"7"}}})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Code != "too_many_attempts" || ae.RetryAfter != 7*time.Second {
		t.Fatalf("err %v (%+v)", err, ae)
	}
	if !errors.Is(err, ErrTooManyAttempts) || !body.closed {
		t.Errorf("errors.Is(ErrTooManyAttempts) %v, body closed %v", errors.Is(err, ErrTooManyAttempts), body.closed)
	}
	if strings.Contains(err.Error(), "the-user-token") {
		t.Errorf("error shows the token: %v", err)
	}
}
