package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

type echoRT struct{}

func (echoRT) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Status: "200 OK", Request: r,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(`{"note":"` + r.Header.Get("X-Note") + `"}`))}, nil
}

func TestWithSecretsMasksValuesInAnyField(t *testing.T) {
	var log bytes.Buffer
	hc := &http.Client{Transport: &DebugTransport{Base: echoRT{}, Log: &log}}
	ctx := WithSecrets(WithSecrets(context.Background(), "first-secret"), "second secret")
	req, _ := http.NewRequestWithContext(ctx, "POST", "https://paragon.test/x?q=second+secret", strings.NewReader("comment=first-secret"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Note", "first-secret")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out := log.String()
	if strings.Contains(out, "first-secret") || strings.Contains(out, "second") || !strings.Contains(out, "X-Note: [redacted]") {
		t.Errorf("trace:\n%s", out)
	}
}

func TestScrubAnswerSecrets(t *testing.T) {
	body := []byte(`{"token":{"access_token":"access-0123456789","token_type":"Bearer"},"user":"alice"}`)
	got := ScrubAnswerSecrets(`object ({"access_token":"access-0123 ...}) and access-0123456789 for alice, Bearer`, body)
	if want := `object ({"access_token":"[redacted] ...}) and [redacted] for alice, Bearer`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := ScrubAnswerSecrets("text", []byte("not json")); got != "text" {
		t.Errorf("not JSON: %q", got)
	}
}
