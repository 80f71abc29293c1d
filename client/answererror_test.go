package client

import (
	"net/http"
	"strings"
	"testing"
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
