package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/paragon-cli/paragon/cmd/internal/cmdtest"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

var bg = context.Background()

func TestLoginFlags(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		args    []string
		wantErr string
		check   func(*LoginOptions) bool
	}{
		{name: "script", args: []string{"--user", "alice", "--password-stdin"}, check: func(o *LoginOptions) bool { return o.User == "alice" && o.PasswordStdin }},
		{name: "terminal prompts", tty: true, check: func(o *LoginOptions) bool { return o.User == "" }},
		{name: "card", args: []string{"--card-id", "CARD-1", "--untrusted"}, check: func(o *LoginOptions) bool { return o.CardID == "CARD-1" && o.Untrusted }},
		{name: "username only", args: []string{"--username-only", "-u", "bob"}, check: func(o *LoginOptions) bool { return o.UsernameOnly && o.User == "bob" }},
		{name: "profile flags", args: []string{"-u", "a", "--password-stdin", "--server", "http://x:1", "--api-key", "k"}, check: func(o *LoginOptions) bool {
			return o.Profile.Server == "http://x:1" && o.Profile.APIKey == "k"
		}},
		{name: "two kinds", args: []string{"--card-id", "c", "--short-id", "s"}, wantErr: "choose one way to log in: --card-id and --short-id cannot be combined"},
		{name: "card with password", args: []string{"--card-id", "c", "--password-stdin"}, wantErr: "--password-stdin cannot be combined with --card-id"},
		{name: "email with user", args: []string{"--email", "a@b", "--user", "a"}, wantErr: "--user cannot be combined with --email"},
		{name: "username-only without user", args: []string{"--username-only"}, wantErr: "--username-only needs --user NAME"},
		{name: "no user without terminal", args: []string{"--password-stdin"}, wantErr: "--user is required when standard input is not a terminal"},
		{name: "no password without terminal", args: []string{"--user", "alice"}, wantErr: "pass it with --password-stdin"},
		{name: "stdin twice", args: []string{"--user", "a", "--password-stdin", "--api-key-stdin"}, wantErr: "both read standard input"},
		{name: "key twice", args: []string{"--user", "a", "--password-stdin", "--api-key", "k", "--api-key-stdin"}, wantErr: "--api-key and --api-key-stdin cannot be combined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cmdtest.New(t, tt.tty)
			var got *LoginOptions
			err := cmdtest.Execute(bg, NewCmdLogin(e.F, func(_ context.Context, o *LoginOptions) error { got = o; return nil }), tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
					t.Fatalf("err %v (exit %d), want usage error %q", err, cmdutil.ExitCode(err), tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(got) {
				t.Fatalf("err %v opts %+v", err, got)
			}
		})
	}
}

const tokenAnswer = `{"token":{"access_token":"user-at","refresh_token":"user-rt","expires_in":3600,"token_type":"Bearer"}}`

func withDevice(t *testing.T, tty bool) *cmdtest.Env {
	e := cmdtest.New(t, tty)
	e.IO.SetNoColor(true)
	e.AddProfile(t, "default")
	e.SetDevice(t, "default")
	return e
}

func stubLogin(t *testing.T, e *cmdtest.Env, wantForm map[string]string, wantAuth string) {
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/login", func(r *http.Request) (*http.Response, error) {
		r.ParseForm()
		for k, v := range wantForm {
			if r.PostForm.Get(k) != v {
				t.Errorf("login form %s=%q, want %q", k, r.PostForm.Get(k), v)
			}
		}
		if r.Header.Get("Authorization") != wantAuth || r.Header.Get("X-Api-Key") != cmdtest.APIKey {
			t.Errorf("login headers %v", r.Header)
		}
		if r.PostForm.Get("password") == "wrong" {
			return httpmock.NewStringResponse(401, `{"error":"invalid_credentials"}`), nil
		}
		return httpmock.NewStringResponse(200, tokenAnswer), nil
	})
}

func checkLoggedIn(t *testing.T, e *cmdtest.Env, user string) {
	t.Helper()
	tok, err := keystore.LoadTokens(e.Store, "default", keystore.UserTokens)
	if err != nil || tok.AccessToken != "user-at" || tok.RefreshToken != "user-rt" || !tok.Expiry.Equal(e.Now.Add(time.Hour)) {
		t.Errorf("stored user tokens %+v, %v", tok, err)
	}
	if got := e.Get("default", keystore.ItemUserName); got != user {
		t.Errorf("stored user name %q, want %q", got, user)
	}
}

func TestLoginPasswordStdin(t *testing.T) {
	e := withDevice(t, false)
	stubLogin(t, e, map[string]string{"authtype": "0", "userid": "alice", "password": "wonderland"}, "Bearer device-at")
	e.In.WriteString("wonderland\n")
	if err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "--user", "alice", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	checkLoggedIn(t, e, "alice")
	want := "✓ Logged in to " + cmdtest.Server + " as alice (profile default).\nRefresh token stored in memory.\n"
	if e.ErrOut.String() != want || e.Out.Len() != 0 {
		t.Errorf("stderr %q\nwant   %q\nstdout %q", e.ErrOut, want, e.Out)
	}
	if strings.Contains(e.ErrOut.String(), "user-at") || strings.Contains(e.ErrOut.String(), "wonderland") {
		t.Error("a secret was printed")
	}
}

func TestLoginPromptsOnTTY(t *testing.T) {
	e := withDevice(t, true)
	stubLogin(t, e, map[string]string{"authtype": "0", "userid": "alice", "password": "wonderland"}, "Bearer device-at")
	e.In.WriteString("alice\n")
	e.IO.SetPasswordReader(func() ([]byte, error) { return []byte("wonderland"), nil })
	if err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil)); err != nil {
		t.Fatal(err)
	}
	checkLoggedIn(t, e, "alice")
	if !strings.HasPrefix(e.ErrOut.String(), "User name: Password for alice: \n✓ Logged in") {
		t.Errorf("stderr %q", e.ErrOut)
	}
}

func TestLoginWrongPassword(t *testing.T) {
	e := withDevice(t, false)
	stubLogin(t, e, nil, "Bearer device-at")
	e.In.WriteString("wrong\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "--user", "alice", "--password-stdin")
	if err == nil || err.Error() != "wrong user name or password (the server refused the credentials); try again" || cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("err %v", err)
	}
	if e.Get("default", keystore.ItemUserRefreshToken) != "" {
		t.Error("tokens stored after a failed login")
	}
}

// TestLoginAsksPasswordThreeTimes: at a terminal a refused password is
// asked for again, up to three times in all, as sudo does.
func TestLoginAsksPasswordThreeTimes(t *testing.T) {
	for _, tt := range []struct {
		typed []string
		ok    bool
	}{
		{typed: []string{"wrong", "wonderland"}, ok: true},
		{typed: []string{"wrong", "wrong", "wrong"}},
	} {
		e := withDevice(t, true)
		e.IO.SetNoColor(true)
		stubLogin(t, e, map[string]string{"userid": "alice"}, "Bearer device-at")
		asked := 0
		e.IO.SetPasswordReader(func() ([]byte, error) {
			if asked >= len(tt.typed) {
				t.Fatalf("asked %d times", asked+1)
			}
			asked++
			return []byte(tt.typed[asked-1]), nil
		})
		err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "--user", "alice")
		if (err == nil) != tt.ok || asked != len(tt.typed) {
			t.Fatalf("%v: err %v after %d prompts", tt.typed, err, asked)
		}
		if n := strings.Count(e.ErrOut.String(), "Wrong user name or password; try again.\n"); n != len(tt.typed)-1 {
			t.Errorf("%v: %d retries said\n%s", tt.typed, n, e.ErrOut)
		}
		if tt.ok {
			checkLoggedIn(t, e, "alice")
		} else if !strings.Contains(err.Error(), "wrong user name or password") {
			t.Errorf("err %v", err)
		}
	}
}

func TestLoginTooManyAttempts(t *testing.T) {
	e := withDevice(t, false)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/login", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(429, `{"error":"too_many_attempts"}`)
		r.Header.Set("Retry-After", "60")
		return r, nil
	})
	e.In.WriteString("x\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "--user", "alice", "--password-stdin")
	if err == nil || err.Error() != "too many failed logins for this user; try again in 1m0s" {
		t.Fatalf("err %v", err)
	}
}

func TestLoginInsecureKinds(t *testing.T) {
	tests := []struct {
		args []string
		form map[string]string
	}{
		{[]string{"--card-id", "CARD-0001"}, map[string]string{"authtype": "1", "userid": "CARD-0001"}},
		{[]string{"--short-id", "1001"}, map[string]string{"authtype": "2", "userid": "1001"}},
		{[]string{"--username-only", "--user", "alice"}, map[string]string{"authtype": "3", "userid": "alice"}},
		{[]string{"--email", "alice@example.com"}, map[string]string{"authtype": "4", "userid": "alice@example.com"}},
	}
	for _, tt := range tests {
		e := withDevice(t, false)
		stubLogin(t, e, tt.form, "Bearer device-at")
		if err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), tt.args...); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if tt.form["authtype"] == "1" && e.Get("default", keystore.ItemUserName) != "" {
			t.Error("a card ID was stored as the user name")
		}
	}
}

func TestLoginInsecureNotAllowed(t *testing.T) {
	e := withDevice(t, false)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/login", httpmock.NewStringResponder(403, `{"error":"insecure_credentials_not_allowed"}`))
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "--email", "alice@example.com")
	if err == nil || !strings.Contains(err.Error(), "does not allow logging in with a card ID") {
		t.Fatalf("err %v", err)
	}
}

func TestLoginUntrustedNewProfile(t *testing.T) {
	e := cmdtest.New(t, false)
	stubLogin(t, e, map[string]string{"userid": "alice"}, "")
	e.In.WriteString("wonderland\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "--untrusted", "--server", cmdtest.Server, "--api-key", cmdtest.APIKey, "-u", "alice", "--password-stdin")
	if err != nil {
		t.Fatal(err)
	}
	checkLoggedIn(t, e, "alice")
	if p, ok := e.Config(t).Profile("default"); !ok || p.Server != cmdtest.Server {
		t.Errorf("profile not created: %+v", p)
	}
}

func TestLoginUntrustedNotAllowed(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/login", httpmock.NewStringResponder(403, `{"error":"device_token_required"}`))
	e.In.WriteString("wonderland\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "--untrusted", "-u", "alice", "--password-stdin")
	want := "this API key does not allow logging in without a trusted device (--untrusted): register this machine first; to fix this, run: paragon device register"
	if err == nil || err.Error() != want || cmdutil.ExitCode(err) != cmdutil.ExitAuth {
		t.Fatalf("err %v", err)
	}
}

func TestLoginRefusesWithEnvToken(t *testing.T) {
	e := withDevice(t, false)
	e.Vars[keystore.EnvToken] = "x"
	e.In.WriteString("pw\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "-u", "alice", "--password-stdin")
	if err == nil || !strings.Contains(err.Error(), "PARAGON_TOKEN is set, and it would win over any login: unset it first") {
		t.Fatalf("err %v", err)
	}
}

func TestLoginWithoutDevice(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "prod")
	e.F.Globals.Profile = "prod"
	e.In.WriteString("pw\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "-u", "alice", "--password-stdin")
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), "run: paragon device register --profile prod") {
		t.Fatalf("err %v", err)
	}
}

// TestLoginOtherServer: a device trusted by one server is never offered to
// another; the hint registers with the new server, as printed.
func TestLoginOtherServer(t *testing.T) {
	e := withDevice(t, false) // no HTTP stub: nothing may be sent
	e.In.WriteString("pw\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "-u", "alice", "--password-stdin", "--server", "https://other.test")
	want := `profile "default"'s device is registered with ` + cmdtest.Server + `, not https://other.test: register this machine with the new server first; to fix this, run: paragon device register --server https://other.test`
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
	if p, _ := e.Config(t).Profile("default"); p.Server != cmdtest.Server {
		t.Errorf("profile moved to %s by a failed login", p.Server)
	}
}

func TestLoginDeviceNotApprovedYet(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	e.Store.Set("default", keystore.ItemDeviceID, cmdtest.DeviceID)
	e.Store.Set("default", trust.ItemDeviceCode, `{"device_code":"dc-1"}`)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", httpmock.NewStringResponder(400, `{"error":"authorization_pending"}`))
	e.In.WriteString("pw\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "-u", "alice", "--password-stdin")
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), "is waiting for approval") || !strings.Contains(err.Error(), cmdtest.Server+"/admin") {
		t.Fatalf("err %v", err)
	}
}

func TestLoginFinishesApprovedRegistration(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	e.SetDevice(t, "default")
	e.DeleteDeviceTokens(t, "default")
	e.Store.Set("default", trust.ItemDeviceCode, `{"device_code":"dc-1"}`)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token",
		httpmock.NewStringResponder(200, `{"access_token":"fresh-device-at","refresh_token":"d-rt","expires_in":3600}`))
	stubLogin(t, e, map[string]string{"userid": "alice"}, "Bearer fresh-device-at")
	e.In.WriteString("pw\n")
	if err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "-u", "alice", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	checkLoggedIn(t, e, "alice")
}

func TestLoginServerDown(t *testing.T) {
	e := withDevice(t, false)
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/api/v1/login", httpmock.ConnectionFailure)
	e.In.WriteString("pw\n")
	err := cmdtest.Execute(bg, NewCmdLogin(e.F, nil), "-u", "alice", "--password-stdin")
	if err == nil || cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("err %v", err)
	}
}

func TestLogout(t *testing.T) {
	for _, all := range []bool{false, true} {
		e := withDevice(t, false)
		e.SetUserTokens(t, "default", "u-at", "u-rt", e.Now.Add(time.Hour))
		e.Store.Set("default", keystore.ItemUserName, "alice")
		args := []string{}
		if all {
			args = append(args, "--all")
		}
		if err := cmdtest.Execute(bg, NewCmdLogout(e.F, nil), args...); err != nil {
			t.Fatal(err)
		}
		for _, it := range userItems {
			if e.Get("default", it) != "" {
				t.Errorf("%s kept", it)
			}
		}
		if deviceKept := e.Get("default", keystore.ItemDeviceID) != ""; deviceKept == all {
			t.Errorf("--all=%v: device kept=%v", all, deviceKept)
		}
		if e.Get("default", keystore.ItemAPIKey) == "" {
			t.Error("logout removed the API key")
		}
		if !strings.HasPrefix(e.ErrOut.String(), "✓ Logged out alice (profile default).\n") {
			t.Errorf("stderr %q", e.ErrOut)
		}
	}
	e := withDevice(t, false)
	if err := cmdtest.Execute(bg, NewCmdLogout(e.F, nil)); err != nil || e.ErrOut.String() != "Profile default was not logged in.\n" {
		t.Errorf("logout when logged out: %v %q", err, e.ErrOut)
	}
}

// stubAccount answers GET /api/v1/account: 200 for the access tokens in
// valid, 401 invalid_token for any other.
func stubAccount(e *cmdtest.Env, valid ...string) {
	e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/account", func(r *http.Request) (*http.Response, error) {
		for _, v := range valid {
			if r.Header.Get("Authorization") == "Bearer "+v {
				return httpmock.NewStringResponse(200, `{"username":"alice"}`), nil
			}
		}
		resp := httpmock.NewStringResponse(401, `{"error":"invalid_token"}`)
		resp.Header.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		return resp, nil
	})
}

func TestToken(t *testing.T) {
	e := withDevice(t, false)
	e.SetUserTokens(t, "default", "u-at", "u-rt", e.Now.Add(time.Hour))
	stubAccount(e, "u-at")
	if err := cmdtest.Execute(bg, NewCmdToken(e.F, nil)); err != nil || e.Out.String() != "u-at\n" {
		t.Fatalf("token: %v %q", err, e.Out)
	}
	e.Out.Reset()
	if err := cmdtest.Execute(bg, NewCmdToken(e.F, nil), "--device"); err != nil || e.Out.String() != "device-at\n" {
		t.Fatalf("token --device: %v %q", err, e.Out)
	}
	e.Out.Reset()
	if err := cmdtest.Execute(bg, NewCmdToken(e.F, nil), "--json"); err != nil || e.Out.String() != `{"access_token":"u-at","token_type":"Bearer","expiry":"2026-11-26T13:00:00Z"}`+"\n" {
		t.Fatalf("token --json: %v %q", err, e.Out)
	}
}

func TestTokenRefreshesExpired(t *testing.T) {
	e := withDevice(t, false)
	e.SetUserTokens(t, "default", "old", "old-rt", e.Now.Add(-time.Hour))
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token",
		httpmock.NewStringResponder(200, `{"access_token":"new","refresh_token":"new-rt","expires_in":3600}`))
	stubAccount(e, "new")
	if err := cmdtest.Execute(bg, NewCmdToken(e.F, nil)); err != nil || e.Out.String() != "new\n" {
		t.Fatalf("token: %v %q", err, e.Out)
	}
	if e.Get("default", keystore.ItemUserRefreshToken) != "new-rt" {
		t.Error("rotated refresh token not saved")
	}
}

// TestTokenServerRefuses: a token that looks valid here but that the server
// has expired or revoked is refreshed; when the refresh fails too, nothing
// is printed and the exit is 4, as for status.
func TestTokenServerRefuses(t *testing.T) {
	for _, loginAlive := range []bool{true, false} {
		e := withDevice(t, false)
		e.SetUserTokens(t, "default", "u-at", "u-rt", e.Now.Add(time.Hour))
		stubAccount(e, "new")
		refresh := httpmock.NewStringResponder(200, `{"access_token":"new","refresh_token":"new-rt","expires_in":3600}`)
		if !loginAlive {
			refresh = httpmock.NewStringResponder(400, `{"error":"invalid_grant"}`)
		}
		e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", refresh)
		err := cmdtest.Execute(bg, NewCmdToken(e.F, nil))
		if loginAlive {
			if err != nil || e.Out.String() != "new\n" {
				t.Errorf("token: %v %q, want the refreshed token", err, e.Out)
			}
			continue
		}
		if cmdutil.ExitCode(err) != cmdutil.ExitAuth || e.Out.Len() != 0 || !strings.Contains(err.Error(), "run: paragon login") {
			t.Errorf("token after the login ended: exit %d (%v), stdout %q", cmdutil.ExitCode(err), err, e.Out)
		}
	}
}

// TestTokenForceRefresh: --refresh renews a valid token (user or device).
func TestTokenForceRefresh(t *testing.T) {
	e := withDevice(t, false)
	e.SetUserTokens(t, "default", "u-at", "u-rt", e.Now.Add(time.Hour))
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", func(r *http.Request) (*http.Response, error) {
		r.ParseForm()
		switch r.PostForm.Get("refresh_token") {
		case "u-rt":
			return httpmock.NewStringResponse(200, `{"access_token":"new","refresh_token":"new-rt","expires_in":3600}`), nil
		case "device-rt":
			return httpmock.NewStringResponse(200, `{"access_token":"new-device","refresh_token":"new-device-rt","expires_in":3600}`), nil
		}
		return httpmock.NewStringResponse(400, `{"error":"invalid_grant"}`), nil
	})
	if err := cmdtest.Execute(bg, NewCmdToken(e.F, nil), "--refresh"); err != nil || e.Out.String() != "new\n" {
		t.Fatalf("token --refresh: %v %q", err, e.Out)
	}
	if e.Get("default", keystore.ItemUserRefreshToken) != "new-rt" {
		t.Error("rotated refresh token not saved")
	}
	e.Out.Reset()
	if err := cmdtest.Execute(bg, NewCmdToken(e.F, nil), "--refresh", "--device"); err != nil || e.Out.String() != "new-device\n" {
		t.Fatalf("token --refresh --device: %v %q", err, e.Out)
	}
	e.Vars[keystore.EnvToken] = "env-token"
	err := cmdtest.Execute(bg, NewCmdToken(e.F, nil), "--refresh")
	if err == nil || !strings.Contains(err.Error(), "PARAGON_TOKEN is set: a token from the environment cannot be refreshed") {
		t.Errorf("--refresh with PARAGON_TOKEN: %v", err)
	}
}

func TestTokenNotLoggedIn(t *testing.T) {
	e := withDevice(t, false)
	err := cmdtest.Execute(bg, NewCmdToken(e.F, nil))
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), "run: paragon login") || e.Out.Len() != 0 {
		t.Fatalf("err %v stdout %q", err, e.Out)
	}
}

func TestTokenExpiredLogin(t *testing.T) {
	e := withDevice(t, false)
	e.SetUserTokens(t, "default", "old", "old-rt", e.Now.Add(-time.Hour))
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", httpmock.NewStringResponder(400, `{"error":"invalid_grant"}`))
	err := cmdtest.Execute(bg, NewCmdToken(e.F, nil))
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), "log in again") {
		t.Fatalf("err %v", err)
	}
}

func TestStatus(t *testing.T) {
	exp := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	local := exp.Local().Format("2006-01-02 15:04:05 MST")
	tests := []struct {
		name     string
		tty      bool
		args     []string
		loggedIn bool
		account  httpmock.Responder
		wantOut  string
		wantCode int
	}{
		{name: "tty", tty: true, loggedIn: true, account: httpmock.NewStringResponder(200, `{}`),
			wantOut: "Profile default\n  Server:        " + cmdtest.Server + "\n  OAuth service: " + cmdtest.Server + "\n  Secrets in:    memory\n  API key:       ******** (from memory)\n" +
				"  Device:        " + cmdtest.DeviceID + " trusted; token valid until " + local + " (in 1h0m0s), refresh token stored\n" +
				"  User:          alice; token from memory, valid until " + local + " (in 1h0m0s), refresh token stored\n  Check:         ✓ the server accepts the login\n"},
		{name: "piped", loggedIn: true, account: httpmock.NewStringResponder(200, `{}`),
			wantOut: "profile\tdefault\nserver\t" + cmdtest.Server + "\noauth_url\t" + cmdtest.Server + "\nstore\tmemory\nstore_location\tmemory\napi_key\t******** (memory)\n" +
				"device_id\t" + cmdtest.DeviceID + "\ndevice_status\ttrusted\ndevice_token_expiry\t2026-11-26T13:00:00Z\nuser\talice\nlogged_in\ttrue\nuser_token_source\tmemory\nuser_token_expiry\t2026-11-26T13:00:00Z\ncheck\tok\n"},
		{name: "show token", args: []string{"--show-token"}, loggedIn: true, account: httpmock.NewStringResponder(200, `{}`),
			wantOut: "profile\tdefault\nserver\t" + cmdtest.Server + "\noauth_url\t" + cmdtest.Server + "\nstore\tmemory\nstore_location\tmemory\napi_key\t" + cmdtest.APIKey + " (memory)\n" +
				"device_id\t" + cmdtest.DeviceID + "\ndevice_status\ttrusted\ndevice_token_expiry\t2026-11-26T13:00:00Z\nuser\talice\nlogged_in\ttrue\nuser_token_source\tmemory\nuser_token_expiry\t2026-11-26T13:00:00Z\ncheck\tok\ndevice_token\tdevice-at\nuser_token\tu-at\n"},
		{name: "json", args: []string{"--json"}, loggedIn: true, account: httpmock.NewStringResponder(200, `{}`),
			wantOut: `{"profile":"default","server":"` + cmdtest.Server + `","oauth_url":"` + cmdtest.Server + `","store":"memory","store_location":"memory","api_key_source":"memory",` +
				`"device":{"id":"` + cmdtest.DeviceID + `","status":"trusted","token_expiry":"2026-11-26T13:00:00Z","refresh_token_stored":true},` +
				`"user":{"name":"alice","logged_in":true,"token_source":"memory","token_expiry":"2026-11-26T13:00:00Z","refresh_token_stored":true},"check":{"ok":true}}` + "\n"},
		{name: "not logged in", wantCode: cmdutil.ExitAuth},
		{name: "check fails", loggedIn: true, account: httpmock.NewStringResponder(500, `{"error":"server_error"}`), wantCode: cmdutil.ExitFailure},
		{name: "login revoked", loggedIn: true, account: httpmock.NewStringResponder(401, `{"error":"invalid_token"}`), wantCode: cmdutil.ExitAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := withDevice(t, tt.tty)
			if tt.loggedIn {
				e.SetUserTokens(t, "default", "u-at", "u-rt", exp)
				e.Store.Set("default", keystore.ItemUserName, "alice")
			}
			if tt.account != nil {
				e.HTTP.RegisterResponder("GET", cmdtest.Server+"/api/v1/account", tt.account)
			}
			if tt.name == "login revoked" {
				e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", httpmock.NewStringResponder(400, `{"error":"invalid_grant"}`))
			}
			err := cmdtest.Execute(bg, NewCmdStatus(e.F, nil), tt.args...)
			if cmdutil.ExitCode(err) != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d", cmdutil.ExitCode(err), err, tt.wantCode)
			}
			if tt.wantOut != "" && e.Out.String() != tt.wantOut {
				t.Errorf("stdout\n%q\nwant\n%q", e.Out, tt.wantOut)
			}
			if tt.wantCode != 0 && !strings.Contains(e.Out.String(), "check\tfailed") {
				t.Errorf("failed check not shown: %q", e.Out)
			}
		})
	}
}

// TestStatusAll: --all shows and checks every profile; the exit code is the
// worst check's.
func TestStatusAll(t *testing.T) {
	e := withDevice(t, false)
	e.SetUserTokens(t, "default", "u-at", "u-rt", e.Now.Add(time.Hour))
	e.AddProfile(t, "prod") // not logged in
	stubAccount(e, "u-at")
	err := cmdtest.Execute(bg, NewCmdStatus(e.F, nil), "--all", "--json")
	if cmdutil.ExitCode(err) != cmdutil.ExitAuth || err.Error() != "1 of 2 profiles failed the check: prod" {
		t.Fatalf("exit %d (%v)", cmdutil.ExitCode(err), err)
	}
	var got []struct {
		Profile string
		Check   struct {
			OK    bool
			Error string
		}
	}
	if jerr := json.Unmarshal(e.Out.Bytes(), &got); jerr != nil || len(got) != 2 {
		t.Fatalf("stdout %q: %v", e.Out, jerr)
	}
	if got[0].Profile != "default" || !got[0].Check.OK || got[1].Profile != "prod" || got[1].Check.OK || got[1].Check.Error != "not logged in" {
		t.Errorf("%+v", got)
	}
	e.Out.Reset()
	e.SetUserTokens(t, "prod", "u-at", "u-rt", e.Now.Add(time.Hour))
	if err := cmdtest.Execute(bg, NewCmdStatus(e.F, nil), "--all"); err != nil {
		t.Fatal(err)
	}
	if out := e.Out.String(); !strings.HasPrefix(out, "profile\tdefault\n") || !strings.Contains(out, "check\tok\n\nprofile\tprod\n") || strings.Count(out, "check\tok\n") != 2 {
		t.Errorf("stdout %q", out)
	}
}
