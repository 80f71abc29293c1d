package scenarios

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFormListsAndCallBody: a form value written as a list is sent as the
// field repeated, in order; call's body is sent as written with its
// content type.
func TestFormListsAndCallBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, r.Header.Get("Content-Type")+"\n"+string(b))
	}))
	defer srv.Close()
	src := `name: f
steps:
  - call:
      method: PUT
      path: /users
      form: {username: dinah, detailtype: [0, 1, "3"], detaildata: [Dinah, d@example.com, "${pw}"]}
    expect:
      body: "application/x-www-form-urlencoded\ndetaildata=Dinah&detaildata=d%40example.com&detaildata=pw-of-dinah&detailtype=0&detailtype=1&detailtype=3&username=dinah"
  - http:
      url: /x
      form: {a: [z, y]}
    expect:
      body: {contains: "a=z&a=y"}
  - call: {method: POST, path: /raw, body: '{"x": 1}', content_type: application/json}
    expect:
      body: "application/json\n{\"x\": 1}"
  - call: {method: POST, path: /raw, body: hello}
    expect:
      body: "text/plain; charset=utf-8\nhello"
`
	list, err := Parse("f.yaml", []byte(strings.ReplaceAll(src, "${pw}", "pw-of-dinah")))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scenarios[0].Status != Passed {
		t.Fatalf("%s", describe(rep.Scenarios[0]))
	}
	got := problemsOf(t, `name: a
steps:
  - call: {method: PUT, path: /users, form: {detailtype: [0, [1]], x: {y: z}}}
  - call: {method: POST, path: /x, body: a, form: {a: b}}
  - call: {path: /x, content_type: text/plain}
`)
	want := []string{
		`t.yaml:3:62: form: expected a value (a string or number) or a list of them, found a list`,
		`t.yaml:3:71: form: expected a value (a string or number) or a list of them, found a mapping`,
		`t.yaml:4:11: call: expected at most one of form, multipart and body`,
		`t.yaml:5:11: call: content_type is the type of body: add body, or set Content-Type in headers`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
