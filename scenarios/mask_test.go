package scenarios

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/paragon-cli/paragon/client"

	"github.com/paragon-cli/paragon/internal/testutil"
)

// TestEnvironmentSecretMaskedInEveryEncoding: a server may quote a secret
// JSON-escaped (Go's default encoder turns < > & into \u003c..., other
// encoders write \/) or URL-encoded (%20 or + for a space, lower-case hex);
// the report shows none of these forms.
func TestEnvironmentSecretMaskedInEveryEncoding(t *testing.T) {
	const secret = `pa ss/w<o>&r"d`
	t.Setenv("PARAGON_TEST_ODD_SECRET", secret)
	j, _ := json.Marshal(secret) // HTML-escaped: \u003c \u003e \u0026 \"
	jq := string(j[1 : len(j)-1])
	forms := []string{
		secret,
		jq,
		strings.ReplaceAll(jq, "/", `\/`),
		url.QueryEscape(secret),
		url.PathEscape(secret),
		strings.ToLower(url.QueryEscape(secret)),
	}
	echo := func(h http.Handler, _ string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/echo" {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Echo", strings.Join(forms[3:], " "))
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"bad","error_description":"` + strings.Join(forms[1:], " | ") + `"}`))
		})
	}
	src := `name: odd
steps:
  - name: echo
    http:
      method: GET
      url: /api/v1/echo
      headers: {X-Custom: "${PARAGON_TEST_ODD_SECRET}"}
    expect:
      status: 200
`
	list, err := Parse("o.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{Wrap: echo}})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Scenarios[0].Steps[0]
	if st.Exchange == nil {
		t.Fatalf("no exchange: %+v", st)
	}
	all := st.Exchange.Request + st.Exchange.Response + st.Error
	for _, f := range st.Failures {
		all += f.Expectation + f.Expected + f.Actual
	}
	for _, f := range forms {
		if strings.Contains(all, f) {
			t.Errorf("the report shows the secret as %q:\n%s", f, all)
		}
	}
	if !strings.Contains(st.Exchange.Response, "400") {
		t.Errorf("response not reported:\n%s", st.Exchange.Response)
	}
}

// paragon scenario run --debug traces through client.DebugTransport, which
// masks by field name; a secret from the environment in any field is masked
// there too.
func TestEnvironmentSecretMaskedInTheDebugTrace(t *testing.T) {
	t.Setenv("PARAGON_TEST_TRACE_SECRET", "trace-secret-42")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"echo":"` + r.Header.Get("X-Custom") + `"}`))
	}))
	defer srv.Close()
	var trace testutil.SyncBuffer
	src := `name: trace
steps:
  - name: env secret in a custom header and the query
    http:
      method: GET
      url: /api/v1/version
      headers: {X-Custom: "${PARAGON_TEST_TRACE_SECRET}"}
      query: {note: "${PARAGON_TEST_TRACE_SECRET}"}
    expect:
      status: 200
`
	list, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &client.DebugTransport{Log: &trace}}
	if _, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: srv.URL, HTTPClient: hc}}); err != nil {
		t.Fatal(err)
	}
	out := trace.String()
	if !strings.Contains(out, "X-Custom: [redacted]") {
		t.Errorf("no masked request in the trace:\n%s", out)
	}
	if strings.Contains(out, "trace-secret-42") {
		t.Errorf("the trace shows the secret:\n%s", out)
	}
}

// TestMaskByWhatAValueIs: a value is a mask because of what it is (a
// token, a variable whose name looks secret), never because it was
// captured or came from the environment; short values, numbers and Bearer
// never mask.
func TestMaskByWhatAValueIs(t *testing.T) {
	t.Setenv("QA_USER", "alice-in-wonderland")
	t.Setenv("QA_PASSWORD", "through-the-looking-glass")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Session-Token", "Bearer header-credential-77")
		_, _ = w.Write([]byte(`{"token":{"token_type":"Bearer","expires_in":3600,"access_token":"at-secret-0001","scope":"print-and-scan"},` +
			`"echo":"` + r.Header.Get("X-Echo") + `"}`))
	}))
	defer srv.Close()
	src := `name: masks
steps:
  - http: {url: /first}
    capture:
      type: $.token.token_type
      lifetime: $.token.expires_in
      tok: $['token']['access_token']
      scope: $.token.scope
      my_api_key: $.token.scope
      session: header X-Session-Token
  - http:
      url: /second
      headers:
        Authorization: "${type} ${tok}"
        X-Echo: "${QA_USER} ${QA_PASSWORD} ${lifetime} ${session}"
    expect:
      json:
        $.token.expires_in: 3601
        $.token.token_type: Basic
`
	list, err := Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Scenarios[0].Steps[1]
	if st.Exchange == nil || len(st.Failures) != 2 {
		t.Fatalf("%s", describe(rep.Scenarios[0]))
	}
	all := st.Exchange.Request + st.Exchange.Response
	for _, f := range st.Failures {
		all += "\n" + f.Expectation + "|" + f.Expected + "|" + f.Actual
	}
	for _, shown := range []string{"Authorization: Bearer [redacted]", "json $.token.expires_in equals|3601|3600",
		`json $.token.token_type equals|"Basic"|"Bearer"`, "alice-in-wonderland", `"token_type":"Bearer"`, `"expires_in":3600`} {
		if !strings.Contains(all, shown) {
			t.Errorf("the report should show %q:\n%s", shown, all)
		}
	}
	for _, secret := range []string{"at-secret-0001", "through-the-looking-glass", "header-credential-77", "print-and-scan"} {
		if strings.Contains(all, secret) {
			t.Errorf("the report shows the secret %q:\n%s", secret, all)
		}
	}
}

func TestLastPathName(t *testing.T) {
	for p, want := range map[string]string{"$.token.access_token": "access_token", "token.access_token": "access_token",
		"$['token']['access_token']": "access_token", `$["password"]`: "password", "$.tokens[0]": "tokens", "$.items[*].password": "password",
		"$": "", "access_token": "access_token", "$.a[?@.x == 'y']": "a"} {
		if got := lastPathName(p); got != want {
			t.Errorf("lastPathName(%q) = %q, want %q", p, got, want)
		}
	}
}
