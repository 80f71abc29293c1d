package scenarios

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestOutsideTargetRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	var evilHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Add(1)
		t.Errorf("the other host got %s %s with X-Api-Key %q", r.Method, r.URL.Path, r.Header.Get("X-Api-Key"))
	}))
	defer evil.Close()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			return // the reachability probe
		}
		http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer target.Close()
	src := `name: redirect
steps:
  - name: login
    http:
      method: POST
      url: /api/v1/login
      form: {authtype: "0", userid: alice, password: "some-password"}
    expect:
      status: 200
`
	list, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: target.URL, APIKey: "outside-api-key"}})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Scenarios[0].Steps[0]
	if evilHits.Load() != 0 {
		t.Fatal("a redirect took the credentials to another host")
	}
	if st.Status != Failed || st.Exchange == nil || !strings.Contains(st.Exchange.Response, "307") {
		t.Errorf("the step should fail on the 307 itself: %+v %+v", st, st.Exchange)
	}
}
