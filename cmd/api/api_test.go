package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdtest"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/keystore"
)

func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	_, err := cmd.ExecuteContextC(context.Background())
	return err
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args    []string
		method  string
		path    string
		wantErr string
	}{
		{args: []string{"version"}, method: "GET", path: "version"},
		{args: []string{"post", "/api/v1/users"}, method: "POST", path: "/api/v1/users"},
		{args: []string{"-X", "delete", "users/dave"}, method: "DELETE", path: "users/dave"},
		{args: []string{"users", "-f", "username=dave"}, method: "POST", path: "users"},
		{args: []string{"users", "-F", "n=1", "-X", "PUT"}, method: "PUT", path: "users"},
		{args: []string{"users", "--input", "body.txt"}, method: "POST", path: "users"},
		{args: []string{"documents/history", "--paginate"}, method: "GET", path: "documents/history"},
		{args: []string{"GET", "documents/history", "--paginate", "-f", "maxrecords=2"}, method: "GET", path: "documents/history"},
		{args: []string{"documents/history", "--paginate", "-f", "maxrecords=2"}, wantErr: "--paginate works only with GET, and fields make the method POST: name it, as in paragon api GET documents/history --paginate -f"},
		{args: []string{"-X", "GET", "PUT", "users"}, wantErr: "the method is given twice"},
		{args: []string{"-X", "POST", "users", "--paginate"}, wantErr: "--paginate works only with GET"},
		{args: []string{"version", "--silent", "--jq", "."}, wantErr: "--silent and --jq cannot be combined"},
		{args: []string{"users", "-f", "novalue"}, wantErr: `field "novalue" is not key=value`},
		{args: []string{"users", "-F", "=x"}, wantErr: `field "=x" is not key=value`},
		{args: []string{"version", "-H", "NoColon"}, wantErr: `header "NoColon" is not "Key: value"`},
		{args: []string{"users", "--input", "-", "-F", "a=@-"}, wantErr: "standard input can be read only once"},
		{args: []string{"version", "--jq", ".[[["}, wantErr: "--jq:"},
		{args: []string{"-X", "GE T", "version"}, wantErr: "invalid method"},
		{args: []string{}, wantErr: "accepts between 1 and 2 arg(s)"},
		{args: []string{"a", "b", "c"}, wantErr: "accepts between 1 and 2 arg(s)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := cmdtest.New(t, false)
			var got *Options
			err := execute(NewCmdAPI(e.F, func(_ context.Context, o *Options) error { got = o; return nil }), tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if cmdutil.ExitCode(err) != cmdutil.ExitUsage && !strings.Contains(tt.wantErr, "accepts") {
					t.Errorf("exit code %d, want usage", cmdutil.ExitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tt.method || got.Path != tt.path {
				t.Errorf("method %q path %q", got.Method, got.Path)
			}
		})
	}
}

const versionJSON = `{"version":"1.0","build":7}`

// loggedIn returns an env with a profile whose user token is valid for an hour.
func loggedIn(t *testing.T, tty bool) *cmdtest.Env {
	e := cmdtest.New(t, tty)
	e.IO.SetNoColor(true)
	e.AddProfile(t, "default")
	e.SetUserTokens(t, "default", "user-at-0123456789", "user-rt", e.Now.Add(time.Hour))
	return e
}

func runAPI(e *cmdtest.Env, args ...string) error {
	return execute(NewCmdAPI(e.F, nil), args...)
}

func TestGetPrintsJSON(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		want string
	}{
		{"tty pretty", true, "{\n  \"version\": \"1.0\",\n  \"build\": 7\n}\n"},
		{"piped raw", false, versionJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loggedIn(t, tt.tty)
			e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", func(r *http.Request) (*http.Response, error) {
				if r.Header.Get("X-Api-Key") != cmdtest.APIKey || r.Header.Get("Authorization") != "Bearer user-at-0123456789" {
					t.Errorf("headers %v", r.Header)
				}
				return httpmock.NewStringResponse(200, versionJSON), nil
			})
			if err := runAPI(e, "version"); err != nil {
				t.Fatal(err)
			}
			if e.Out.String() != tt.want || e.ErrOut.Len() != 0 {
				t.Errorf("stdout %q stderr %q", e.Out, e.ErrOut)
			}
		})
	}
}

func TestColourOnTTY(t *testing.T) {
	e := loggedIn(t, true)
	e.IO.SetNoColor(false)
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", httpmock.NewStringResponder(200, versionJSON))
	if err := runAPI(e, "/api/v1/version"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Out.String(), "\x1b[") {
		t.Errorf("no colour on a terminal: %q", e.Out)
	}
}

func TestFieldsGoToQueryForGET(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/users/all", func(r *http.Request) (*http.Response, error) {
		if got := r.URL.Query().Encode(); got != "flag=true&maxrecords=10" {
			t.Errorf("query %q", got)
		}
		return httpmock.NewStringResponse(200, `{"items":[]}`), nil
	})
	if err := runAPI(e, "GET", "users/all", "-f", "maxrecords=10", "-F", "flag=true"); err != nil {
		t.Fatal(err)
	}
}

func TestFormBody(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("PUT", cmdtest.Server+"/api/v1/users", func(r *http.Request) (*http.Response, error) {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", ct)
		}
		r.ParseForm()
		if r.PostForm.Get("username") != "dave" || strings.Join(r.PostForm["detailtype"], ",") != "0,3" || r.PostForm.Get("n") != "2" {
			t.Errorf("form %v", r.PostForm)
		}
		return httpmock.NewStringResponse(201, ``), nil
	})
	if err := runAPI(e, "-X", "PUT", "users", "-f", "username=dave", "-f", "detailtype=0", "-f", "detailtype=3", "-F", "n=2"); err != nil {
		t.Fatal(err)
	}
	if e.Out.Len() != 0 {
		t.Errorf("stdout %q", e.Out)
	}
}

func TestJSONBody(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/things", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != `{"a":"1","b":1,"c":true,"d":null,"e":["x","y"]}` {
			t.Errorf("body %s", b)
		}
		return httpmock.NewStringResponse(200, `{}`), nil
	})
	err := runAPI(e, "things", "-H", "Content-Type: application/json", "-f", "a=1", "-F", "b=1", "-F", "c=true", "-F", "d=null", "-f", "e=x", "-f", "e=y")
	if err != nil {
		t.Fatal(err)
	}
}

// TestMultipartFileAndStdin: -F key=@path and -F key=@- are both file parts
// (the documents function wants its data as one), with every byte.
func TestMultipartFileAndStdin(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "report.pdf")
	os.WriteFile(file, []byte("%PDF-1.4"), 0o600)
	for _, tt := range []struct {
		arg, part, content string
	}{
		{"data=@" + file, "data|report.pdf", "%PDF-1.4"},
		{"data=@-", "data|stdin", "Hello, printer\n"},
	} {
		e := loggedIn(t, false)
		e.In.WriteString("Hello, printer\n")
		e.HTTP.RegisterResponder("PUT", cmdtest.Server+"/api/v1/documents", func(r *http.Request) (*http.Response, error) {
			mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt != "multipart/form-data" {
				t.Errorf("%s: content type %q", tt.arg, mt)
			}
			mr := multipart.NewReader(r.Body, params["boundary"])
			got := map[string]string{}
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(p)
				got[p.FormName()+"|"+p.FileName()] = string(b)
			}
			if len(got) != 3 || got[tt.part] != tt.content || got["title|"] != "Report" || got["copies|"] != "2" {
				t.Errorf("%s: parts %q", tt.arg, got)
			}
			return httpmock.NewStringResponse(200, `{"id":"doc-1"}`), nil
		})
		if err := runAPI(e, "PUT", "documents", "-F", tt.arg, "-f", "title=Report", "-F", "copies=2"); err != nil {
			t.Fatal(err)
		}
		if e.Out.String() != `{"id":"doc-1"}` {
			t.Errorf("stdout %q", e.Out)
		}
	}
}

// TestStdinFieldInQuery: for GET, a value from @- goes in the query string
// without the line break that ends what was typed or piped.
func TestStdinFieldInQuery(t *testing.T) {
	e := loggedIn(t, false)
	e.In.WriteString("alice\n")
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/users/all", func(r *http.Request) (*http.Response, error) {
		if q := r.URL.Query(); q.Get("username") != "alice" {
			t.Errorf("query %q", r.URL.RawQuery)
		}
		return httpmock.NewStringResponse(200, `{}`), nil
	})
	if err := runAPI(e, "GET", "users/all", "-F", "username=@-"); err != nil {
		t.Fatal(err)
	}
}

func TestMissingFieldFile(t *testing.T) {
	e := loggedIn(t, false)
	err := runAPI(e, "PUT", "documents", "-F", "data=@/no/such/file")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "field data") {
		t.Fatalf("err %v", err)
	}
}

func TestInputFile(t *testing.T) {
	e := loggedIn(t, false)
	file := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(file, []byte(`{"x":1}`), 0o600)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/things", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != `{"x":1}` || r.URL.Query().Get("dry") != "1" {
			t.Errorf("body %s query %s", b, r.URL.RawQuery)
		}
		return httpmock.NewStringResponse(200, `{}`), nil
	})
	if err := runAPI(e, "things", "--input", file, "-f", "dry=1"); err != nil {
		t.Fatal(err)
	}
}

func TestPaginateMergesItems(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/documents/history", func(r *http.Request) (*http.Response, error) {
		switch r.URL.Query().Get("pageToken") {
		case "":
			return httpmock.NewStringResponse(200, `{"items":[{"id":1},{"id":2}],"nextPageToken":"p2"}`), nil
		case "p2":
			return httpmock.NewStringResponse(200, `{"items":[{"id":3}],"nextPageToken":"p3"}`), nil
		default:
			return httpmock.NewStringResponse(200, `{"items":[]}`), nil
		}
	})
	if err := runAPI(e, "GET", "documents/history", "--paginate", "-f", "maxrecords=2"); err != nil {
		t.Fatal(err)
	}
	if got := e.Out.String(); got != `{"items":[{"id":1},{"id":2},{"id":3}]}`+"\n" {
		t.Errorf("stdout %q", got)
	}
	if n := e.HTTP.GetCallCountInfo()["GET "+cmdtest.Server+"/api/v1/documents/history"]; n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestJQ(t *testing.T) {
	for _, tty := range []bool{false, true} {
		e := loggedIn(t, tty)
		e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/users/all",
			httpmock.NewStringResponder(200, `{"items":[{"username":"alice","n":1},{"username":"bob","n":2}]}`))
		if err := runAPI(e, "users/all", "--jq", `.items[].username, (.items|length), {n: .items[0].n}`); err != nil {
			t.Fatal(err)
		}
		want := "alice\nbob\n2\n{\"n\":1}\n"
		if tty {
			want = "alice\nbob\n2\n{\n  \"n\": 1\n}\n"
		}
		if e.Out.String() != want {
			t.Errorf("tty=%v stdout %q", tty, e.Out)
		}
	}
}

func TestIncludeAndSilent(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", func(r *http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(200, versionJSON)
		resp.Header.Set("Content-Type", "application/json")
		resp.Header.Set("X-B", "2")
		return resp, nil
	})
	if err := runAPI(e, "version", "-i", "--silent"); err != nil {
		t.Fatal(err)
	}
	if got := e.Out.String(); got != "HTTP/1.1 200 OK\nContent-Type: application/json\nX-B: 2\n\n" {
		t.Errorf("stdout %q", got)
	}
}

func TestErrorStatusExitsNonZero(t *testing.T) {
	e := loggedIn(t, false)
	body := `{"error":"forbidden","error_description":"only administrators may create users"}`
	e.HTTP.RegisterResponder("PUT", cmdtest.Server+"/api/v1/users", httpmock.NewStringResponder(403, body))
	err := runAPI(e, "PUT", "users", "-f", "username=x")
	if err == nil || cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("err %v", err)
	}
	if want := "the server answered 403 Forbidden: forbidden: only administrators may create users"; err.Error() != want {
		t.Errorf("err %q, want %q", err, want)
	}
	if e.Out.String() != body {
		t.Errorf("stdout %q", e.Out)
	}
}

func TestExpiredTokenIsRefreshedAndSaved(t *testing.T) {
	e := loggedIn(t, false)
	e.SetUserTokens(t, "default", "old-at", "old-rt", e.Now.Add(-time.Minute))
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", func(r *http.Request) (*http.Response, error) {
		r.ParseForm()
		if r.PostForm.Get("refresh_token") != "old-rt" || r.PostForm.Get("client_id") != "api" {
			t.Errorf("refresh form %v", r.PostForm)
		}
		return httpmock.NewStringResponse(200, `{"access_token":"new-at","refresh_token":"new-rt","expires_in":3600,"token_type":"Bearer"}`), nil
	})
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") != "Bearer new-at" {
			t.Errorf("authorization %q", r.Header.Get("Authorization"))
		}
		return httpmock.NewStringResponse(200, versionJSON), nil
	})
	if err := runAPI(e, "version"); err != nil {
		t.Fatal(err)
	}
	tok, _ := keystore.LoadTokens(e.Store, "default", keystore.UserTokens)
	if tok.AccessToken != "new-at" || tok.RefreshToken != "new-rt" || !tok.Expiry.Equal(e.Now.Add(time.Hour)) {
		t.Errorf("stored %+v", tok)
	}
}

func TestRejectedTokenRefreshesOnceAndRetries(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token",
		httpmock.NewStringResponder(200, `{"access_token":"new-at","refresh_token":"new-rt","expires_in":3600}`))
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") == "Bearer user-at-0123456789" {
			return httpmock.NewStringResponse(401, `{"error":"invalid_token"}`), nil
		}
		return httpmock.NewStringResponse(200, versionJSON), nil
	})
	if err := runAPI(e, "version"); err != nil {
		t.Fatal(err)
	}
	if e.Out.String() != versionJSON {
		t.Errorf("stdout %q", e.Out)
	}
}

func TestDeadRefreshTokenSaysLogInAgain(t *testing.T) {
	e := loggedIn(t, false)
	e.SetUserTokens(t, "default", "old-at", "old-rt", e.Now.Add(-time.Minute))
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token",
		httpmock.NewStringResponder(400, `{"error":"invalid_grant","error_description":"refresh token expired"}`))
	err := runAPI(e, "version")
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), "log in again") || !strings.Contains(err.Error(), "run: paragon login") {
		t.Fatalf("err %v (exit %d)", err, cmdutil.ExitCode(err))
	}
}

func TestNotLoggedIn(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	err := runAPI(e, "version")
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), "not logged in") || !strings.Contains(err.Error(), "paragon login") {
		t.Fatalf("err %v", err)
	}
}

func TestNoProfile(t *testing.T) {
	e := cmdtest.New(t, false)
	err := runAPI(e, "version")
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), `profile "default" is not set up`) || !strings.Contains(err.Error(), "paragon device register --server <URL>") {
		t.Fatalf("err %v", err)
	}
	e = cmdtest.New(t, false)
	e.AddProfile(t, "prod")
	e.F.Globals.Profile = "nope"
	err = runAPI(e, "version")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), `unknown profile "nope"; profiles: prod`) {
		t.Fatalf("err %v", err)
	}
}

func TestEnvTokenWins(t *testing.T) {
	e := loggedIn(t, false)
	e.Vars[keystore.EnvToken] = "env-token"
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") != "Bearer env-token" {
			t.Errorf("authorization %q", r.Header.Get("Authorization"))
		}
		return httpmock.NewStringResponse(200, versionJSON), nil
	})
	if err := runAPI(e, "version"); err != nil {
		t.Fatal(err)
	}
}

func TestServerDown(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", func(*http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	})
	err := runAPI(e, "version")
	if err == nil || err.Error() != "cannot reach paragon.test: connection refused (is the server running? check --server)" {
		t.Fatalf("err %v", err)
	}
}

func TestOtherHostRefused(t *testing.T) {
	e := loggedIn(t, false)
	err := runAPI(e, "https://evil.example/api/v1/version")
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "refusing to send credentials to https://evil.example") {
		t.Fatalf("err %v", err)
	}
}

func TestFullURLOnServer(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", httpmock.NewStringResponder(200, versionJSON))
	if err := runAPI(e, cmdtest.Server+"/api/v1/version"); err != nil {
		t.Fatal(err)
	}
}

func TestEnvTokenRefused(t *testing.T) {
	e := loggedIn(t, false)
	e.Vars[keystore.EnvToken] = "bad-token"
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", httpmock.NewStringResponder(401, `{"error":"invalid_token"}`))
	err := runAPI(e, "version")
	if err == nil || !strings.Contains(err.Error(), "the server refused the token in PARAGON_TOKEN (401 Unauthorized: invalid_token)") || cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("err %v", err)
	}
}

func TestTokenStillRefusedAfterRefresh(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token",
		httpmock.NewStringResponder(200, `{"access_token":"new-at","refresh_token":"new-rt","expires_in":3600}`))
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/version", httpmock.NewStringResponder(401, `{"error":"invalid_token"}`))
	err := runAPI(e, "version")
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), "refused the token even after a refresh") || !strings.Contains(err.Error(), "run: paragon login") {
		t.Fatalf("err %v", err)
	}
}

func TestErrorLineMasksEchoedSecrets(t *testing.T) {
	e := loggedIn(t, false)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/users", func(r *http.Request) (*http.Response, error) {
		_ = r.ParseForm()
		desc := "key " + r.Header.Get("X-Api-Key") + ", " + r.Header.Get("Authorization") + ", password " + r.PostForm.Get("password") +
			`, as JSON {\"k\":\"` + r.Header.Get("X-Api-Key") + `\"}`
		return httpmock.NewStringResponse(400, `{"error":"bad","error_description":"`+desc+`"}`), nil
	})
	err := runAPI(e, "users", "-f", "password=hunter2-secret", "-f", "username=x")
	if err == nil {
		t.Fatal("no error")
	}
	for _, secret := range []string{cmdtest.APIKey, "user-at-0123456789", "hunter2-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error line %q shows the secret %q", err, secret)
		}
	}
	if !strings.Contains(err.Error(), "the server answered 400 Bad Request: bad: key [redacted], Bearer [redacted]") {
		t.Errorf("err %q", err)
	}
}

// A --jq error quotes the answer (gojq abbreviates long values with " ..."):
// the tokens in it stay masked, whole or cut short.
func TestJQErrorMasksTokens(t *testing.T) {
	const at, rt = "AT-abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "RT-abcdefghijklmnopqrstuvwxyz0123456789ABCDEF"
	for _, q := range []string{".token | .[0]", ".token.access_token | tonumber", "error"} {
		e := loggedIn(t, false)
		e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/login",
			httpmock.NewStringResponder(200, `{"token":{"access_token":"`+at+`","refresh_token":"`+rt+`","expires_in":3600}}`))
		err := runAPI(e, "login", "-f", "authtype=0", "--jq", q)
		if err == nil || !strings.Contains(err.Error(), "--jq: ") || !strings.Contains(err.Error(), "[redacted]") {
			t.Fatalf("%s: err %v, want a masked --jq error", q, err)
		}
		if strings.Contains(err.Error(), "AT-abcd") || strings.Contains(err.Error(), "RT-abcd") {
			t.Errorf("%s: the error shows a token: %v", q, err)
		}
	}
}
