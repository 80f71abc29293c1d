package device

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdtest"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

var bg = context.Background()

func TestRegisterFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(*RegisterOptions) bool
	}{
		{args: nil, check: func(o *RegisterOptions) bool { return o.Type == "desktop_client" && !o.NoWait }},
		{args: []string{"--type", "printer", "--description", "lobby", "--no-wait", "--json"}, check: func(o *RegisterOptions) bool {
			return o.Type == "printer" && o.Description == "lobby" && o.NoWait && o.JSON
		}},
		{args: []string{"--server", "http://h:1", "--oauth-url", "http://h:2", "--api-key", "k"}, check: func(o *RegisterOptions) bool {
			return o.Profile.Server == "http://h:1" && o.Profile.OAuthURL == "http://h:2" && o.Profile.APIKey == "k"
		}},
		{args: []string{"--type", "toaster"}, wantErr: `invalid --type "toaster": use one of desktop_client, printer`},
		{args: []string{"--api-key", "k", "--api-key-stdin"}, wantErr: "--api-key and --api-key-stdin cannot be combined"},
		{args: []string{"extra"}, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := cmdtest.New(t, false)
			var got *RegisterOptions
			err := cmdtest.Execute(bg, NewCmdRegister(e.F, func(_ context.Context, o *RegisterOptions) error { got = o; return nil }), tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(got) {
				t.Fatalf("err %v, opts %+v", err, got)
			}
		})
	}
}

// stubRegister answers the registration, checking the form and signature.
func stubRegister(t *testing.T, e *cmdtest.Env) {
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/register", func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		if form.Get("client_secret") != cmdtest.APIKey || form.Get("response_type") != "device_code" || form.Get("key_type") != "ed25519" || form.Get("client_id") == "" {
			t.Errorf("register form %v", form)
		}
		pub, _ := base64.StdEncoding.DecodeString(form.Get("public_key"))
		sig, _ := base64.StdEncoding.DecodeString(r.Header.Get(client.SignatureHeader))
		if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, body, sig) {
			t.Errorf("registration not signed with the registered key")
		}
		return httpmock.NewStringResponse(200, `{"device_code":"dc-1","expires_in":259200}`), nil
	})
}

func pendingResponder(n *int, after int) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		*n++
		r.ParseForm()
		if r.PostForm.Get("device_code") != "dc-1" || r.PostForm.Get("grant_type") != "device_code" {
			return httpmock.NewStringResponse(400, `{"error":"invalid_grant"}`), nil
		}
		if *n > after {
			return httpmock.NewStringResponse(200, `{"access_token":"device-at","refresh_token":"device-rt","expires_in":3600,"token_type":"Bearer"}`), nil
		}
		return httpmock.NewStringResponse(400, `{"error":"authorization_pending"}`), nil
	}
}

func TestRegisterNoWaitNewProfile(t *testing.T) {
	e := cmdtest.New(t, false)
	stubRegister(t, e)
	polls := 0
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", pendingResponder(&polls, 99))
	e.In.WriteString(cmdtest.APIKey + "\n")
	err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--server", cmdtest.Server+"/", "--api-key-stdin", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	id := e.Get("default", keystore.ItemDeviceID)
	if id == "" || e.Out.String() != id+"\n" {
		t.Fatalf("stdout %q, stored id %q", e.Out, id)
	}
	if e.Get("default", keystore.ItemDevicePrivateKey) == "" || !strings.Contains(e.Get("default", trust.ItemDeviceCode), "dc-1") {
		t.Error("key or pending registration not stored")
	}
	if e.Get("default", keystore.ItemAPIKey) != cmdtest.APIKey {
		t.Error("API key not stored")
	}
	p, ok := e.Config(t).Profile("default")
	if !ok || p.Server != cmdtest.Server || p.DeviceType != "desktop_client" {
		t.Errorf("profile %+v", p)
	}
	errOut := e.ErrOut.String()
	for _, want := range []string{"An administrator of " + cmdtest.Server + " must approve device " + id, cmdtest.Server + "/admin", "Once it is approved, run: paragon login"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if polls != 1 {
		t.Errorf("%d polls, want 1", polls)
	}
}

func TestRegisterWaitsWithSpinnerOnTTY(t *testing.T) {
	for _, tty := range []bool{true, false} {
		e := cmdtest.New(t, tty)
		e.IO.SetNoColor(true)
		e.AddProfile(t, "default")
		stubRegister(t, e)
		polls := 0
		e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", pendingResponder(&polls, 3))
		if err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil)); err != nil {
			t.Fatal(err)
		}
		id := e.Get("default", keystore.ItemDeviceID)
		if e.Out.String() != id+"\n" {
			t.Errorf("stdout %q", e.Out)
		}
		tok, _ := keystore.LoadTokens(e.Store, "default", keystore.DeviceTokens)
		if tok.AccessToken != "device-at" || tok.RefreshToken != "device-rt" {
			t.Errorf("device tokens %+v", tok)
		}
		if e.Get("default", trust.ItemDeviceCode) != "" {
			t.Error("pending registration kept after approval")
		}
		errOut := e.ErrOut.String()
		if !strings.Contains(errOut, "Waiting for approval of device "+id) || !strings.Contains(errOut, "✓ Device "+id+" is trusted") {
			t.Errorf("tty=%v stderr:\n%s", tty, errOut)
		}
		if got := strings.Contains(errOut, "\r\x1b[K"); got != tty {
			t.Errorf("tty=%v: spinner control sequences present=%v", tty, got)
		}
	}
}

func TestRegisterCtrlCKeepsRegistration(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	stubRegister(t, e)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	polls := 0
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", func(r *http.Request) (*http.Response, error) {
		polls++
		if polls == 2 {
			cancel() // the user presses Ctrl-C while waiting
		}
		return httpmock.NewStringResponse(400, `{"error":"authorization_pending"}`), nil
	})
	err := cmdtest.Execute(ctx, NewCmdRegister(e.F, nil))
	if err == nil || !strings.Contains(err.Error(), "stopped waiting; device") || cmdutil.ExitCode(err) != cmdutil.ExitInterrupted {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(e.Get("default", trust.ItemDeviceCode), "dc-1") {
		t.Error("pending registration lost on Ctrl-C")
	}
}

func TestRegisterRefused(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	stubRegister(t, e)
	polls := 0
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", func(r *http.Request) (*http.Response, error) {
		polls++
		if polls > 1 {
			return httpmock.NewStringResponse(400, `{"error":"access_denied"}`), nil
		}
		return httpmock.NewStringResponse(400, `{"error":"authorization_pending"}`), nil
	})
	err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil))
	if err == nil || !strings.Contains(err.Error(), "an administrator refused this device") {
		t.Fatalf("err %v", err)
	}
	if e.Get("default", trust.ItemDeviceCode) != "" {
		t.Error("refused registration kept")
	}
}

func TestRegisterMistakes(t *testing.T) {
	t.Run("new profile without server", func(t *testing.T) {
		e := cmdtest.New(t, false)
		err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--api-key", "k")
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "pass --server URL") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("new profile without API key", func(t *testing.T) {
		e := cmdtest.New(t, false)
		err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--server", cmdtest.Server)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "no API key for profile") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("new profile without API key on a terminal: asked for", func(t *testing.T) {
		e := cmdtest.New(t, true)
		e.IO.SetNoColor(true)
		stubRegister(t, e)
		polls := 0
		e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", pendingResponder(&polls, 99))
		echoed := false
		e.IO.SetPasswordReader(func() ([]byte, error) { echoed = true; return []byte(cmdtest.APIKey), nil })
		err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--server", cmdtest.Server, "--no-wait")
		if err != nil {
			t.Fatal(err)
		}
		if !echoed || !strings.HasPrefix(e.ErrOut.String(), "API key for "+cmdtest.Server+": \n") {
			t.Errorf("no prompt without echo; stderr %q", e.ErrOut)
		}
		if e.Get("default", keystore.ItemAPIKey) != cmdtest.APIKey {
			t.Error("prompted API key not stored")
		}
	})
	t.Run("new profile, empty API key typed", func(t *testing.T) {
		e := cmdtest.New(t, true)
		e.IO.SetPasswordReader(func() ([]byte, error) { return []byte("  "), nil })
		err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--server", cmdtest.Server)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || err.Error() != "the API key is empty: type it, or pass --api-key-stdin" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad server URL", func(t *testing.T) {
		e := cmdtest.New(t, false)
		err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--server", "localhost:7300", "--api-key", "k")
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("empty API key on stdin", func(t *testing.T) {
		e := cmdtest.New(t, false)
		e.In.WriteString("\n")
		err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--server", cmdtest.Server, "--api-key-stdin")
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "is empty") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("wrong API key", func(t *testing.T) {
		e := cmdtest.New(t, false)
		e.AddProfile(t, "default")
		e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/register", httpmock.NewStringResponder(401, `{"error":"invalid_client"}`))
		err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil))
		if cmdutil.ExitCode(err) != cmdutil.ExitAuth || !strings.Contains(err.Error(), "refused the API key") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestRegisterJSON(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	stubRegister(t, e)
	polls := 0
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", pendingResponder(&polls, 99))
	if err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--no-wait", "--json"); err != nil {
		t.Fatal(err)
	}
	id := e.Get("default", keystore.ItemDeviceID)
	want := `{"profile":"default","device":{"id":"` + id + `","status":"pending","approve_at":"` + cmdtest.Server + `/admin","next_check":"2026-11-26T12:00:05Z","refresh_token_stored":false},"store":"memory"}` + "\n"
	if e.Out.String() != want {
		t.Errorf("stdout %q\nwant %q", e.Out, want)
	}
}

func TestStatus(t *testing.T) {
	exp := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		tty      bool
		json     bool
		setup    func(*testing.T, *cmdtest.Env)
		wantOut  string
		wantCode int
		wantErr  string
	}{
		{name: "trusted piped", setup: func(t *testing.T, e *cmdtest.Env) { e.SetDevice(t, "default") },
			wantOut: cmdtest.DeviceID + "\ttrusted\t2026-11-26T13:00:00Z\tmemory\n"},
		{name: "trusted tty", tty: true, setup: func(t *testing.T, e *cmdtest.Env) { e.SetDevice(t, "default") },
			wantOut: "Device " + cmdtest.DeviceID + ": trusted\n  Server:        " + cmdtest.Server + "\n  Device token:  valid until " + exp.Local().Format("2006-01-02 15:04:05 MST") + " (in 1h0m0s)\n  Refresh token: stored\n  Stored in:     memory\n"},
		{name: "trusted json", json: true, setup: func(t *testing.T, e *cmdtest.Env) { e.SetDevice(t, "default") },
			wantOut: `{"profile":"default","device":{"id":"` + cmdtest.DeviceID + `","status":"trusted","token_expiry":"2026-11-26T13:00:00Z","refresh_token_stored":true},"store":"memory"}` + "\n"},
		{name: "none", wantCode: cmdutil.ExitAuth, wantErr: "no device registered for profile \"default\"; to fix this, run: paragon device register"},
		{name: "pending", setup: func(t *testing.T, e *cmdtest.Env) {
			e.Store.Set("default", keystore.ItemDeviceID, cmdtest.DeviceID)
			e.Store.Set("default", trust.ItemDeviceCode, `{"device_code":"dc-1"}`)
			e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", httpmock.NewStringResponder(400, `{"error":"authorization_pending"}`))
		}, wantOut: cmdtest.DeviceID + "\tpending\t\tmemory\n", wantCode: cmdutil.ExitAuth, wantErr: "is waiting for approval: an administrator of " + cmdtest.Server + " must approve it"},
		{name: "approved meanwhile", setup: func(t *testing.T, e *cmdtest.Env) {
			e.Store.Set("default", keystore.ItemDeviceID, cmdtest.DeviceID)
			e.Store.Set("default", trust.ItemDeviceCode, `{"device_code":"dc-1"}`)
			n := 0
			e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", pendingResponder(&n, 0))
		}, wantOut: cmdtest.DeviceID + "\ttrusted\t2026-11-26T13:00:00Z\tmemory\n"},
		{name: "polled moments ago by another command: answers at once", setup: func(t *testing.T, e *cmdtest.Env) {
			e.Store.Set("default", keystore.ItemDeviceID, cmdtest.DeviceID)
			e.Store.Set("default", trust.ItemDeviceCode, `{"device_code":"dc-1"}`)
			e.F.Sleep = func(ctx context.Context, _ time.Duration) error {
				if ctx.Err() == nil { // not the abandoned poll loop's wait
					t.Error("device status waited")
				}
				return ctx.Err()
			}
			e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", httpmock.NewStringResponder(400, `{"error":"slow_down"}`))
		}, wantOut: cmdtest.DeviceID + "\tpending\t\tmemory\n", wantCode: cmdutil.ExitAuth,
			wantErr: "the next paragon command asks the server again, from " + time.Date(2026, 11, 26, 12, 0, 10, 0, time.UTC).Local().Format("15:04:05") + "; once it is approved, run: paragon login"},
		{name: "pending json says when it asks again", json: true, setup: func(t *testing.T, e *cmdtest.Env) {
			e.Store.Set("default", keystore.ItemDeviceID, cmdtest.DeviceID)
			e.Store.Set("default", trust.ItemDeviceCode, `{"device_code":"dc-1"}`)
			e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", httpmock.NewStringResponder(400, `{"error":"authorization_pending"}`))
		}, wantOut: `{"profile":"default","device":{"id":"` + cmdtest.DeviceID + `","status":"pending","approve_at":"` + cmdtest.Server + `/admin","next_check":"2026-11-26T12:00:05Z","refresh_token_stored":false},"store":"memory"}` + "\n", wantCode: cmdutil.ExitAuth},
		{name: "slow_down twice is still pending", setup: func(t *testing.T, e *cmdtest.Env) {
			e.Store.Set("default", keystore.ItemDeviceID, cmdtest.DeviceID)
			e.Store.Set("default", trust.ItemDeviceCode, `{"device_code":"dc-1"}`)
			e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", httpmock.NewStringResponder(400, `{"error":"slow_down"}`))
		}, wantOut: cmdtest.DeviceID + "\tpending\t\tmemory\n", wantCode: cmdutil.ExitAuth, wantErr: "is waiting for approval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cmdtest.New(t, tt.tty)
			e.IO.SetNoColor(true)
			e.AddProfile(t, "default")
			if tt.setup != nil {
				tt.setup(t, e)
			}
			args := []string{}
			if tt.json {
				args = append(args, "--json")
			}
			err := cmdtest.Execute(bg, NewCmdStatus(e.F, nil), args...)
			if cmdutil.ExitCode(err) != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d", cmdutil.ExitCode(err), err, tt.wantCode)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
			if e.Out.String() != tt.wantOut {
				t.Errorf("stdout %q\nwant   %q", e.Out, tt.wantOut)
			}
		})
	}
}

func TestForget(t *testing.T) {
	for _, tty := range []bool{true, false} {
		e := cmdtest.New(t, tty)
		e.IO.SetNoColor(true)
		e.AddProfile(t, "default")
		e.SetDevice(t, "default")
		e.SetUserTokens(t, "default", "u-at", "u-rt", e.Now.Add(time.Hour))
		if err := cmdtest.Execute(bg, NewCmdForget(e.F, nil)); err != nil {
			t.Fatal(err)
		}
		for _, it := range trust.Items {
			if e.Get("default", it) != "" {
				t.Errorf("%s kept", it)
			}
		}
		if e.Get("default", keystore.ItemUserRefreshToken) != "u-rt" {
			t.Error("forget removed the user's login")
		}
		if !strings.Contains(e.ErrOut.String(), "✓ Forgot device "+cmdtest.DeviceID) || e.Out.Len() != 0 {
			t.Errorf("stderr %q stdout %q", e.ErrOut, e.Out)
		}
		e.ErrOut.Reset()
		if err := cmdtest.Execute(bg, NewCmdForget(e.F, nil)); err != nil || !strings.Contains(e.ErrOut.String(), "nothing to forget") {
			t.Errorf("second forget: %v %q", err, e.ErrOut)
		}
	}
}

func TestLockedKeyring(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	e.F.OpenStore = func(string) (keystore.Store, keystore.Notice, error) {
		return nil, keystore.Notice{}, fmt.Errorf("keystore: the OS keyring is not usable: keystore: keyring: reading probe: %w", keystore.ErrTimeout)
	}
	err := cmdtest.Execute(bg, NewCmdStatus(e.F, nil))
	if err == nil || !strings.Contains(err.Error(), "unlock the keyring, or keep secrets in a plain file with --insecure-storage") {
		t.Fatalf("err %v", err)
	}
}

// TestRegisterOtherServer: pointing a profile at another server is a fresh
// registration there (new id, new key), not the old server's pending one;
// the old server's device and login are forgotten once it succeeds.
func TestRegisterOtherServer(t *testing.T) {
	const other = "https://other.test"
	for _, trusted := range []bool{false, true} {
		e := cmdtest.New(t, false)
		e.IO.SetNoColor(true)
		e.AddProfile(t, "default")
		e.SetDevice(t, "default")
		if !trusted {
			e.DeleteDeviceTokens(t, "default")
			e.Store.Set("default", trust.ItemDeviceCode, `{"device_code":"dc-old"}`)
		}
		e.SetUserTokens(t, "default", "u-at", "u-rt", e.Now.Add(time.Hour))
		oldKey := e.Get("default", keystore.ItemDevicePrivateKey)
		var registered string
		e.HTTP.RegisterResponder("POST", other+"/oauth/v1/register", func(r *http.Request) (*http.Response, error) {
			r.ParseForm()
			registered = r.PostForm.Get("client_id")
			return httpmock.NewStringResponse(200, `{"device_code":"dc-new","expires_in":259200}`), nil
		})
		e.HTTP.RegisterResponder("POST", other+"/oauth/v1/token", func(r *http.Request) (*http.Response, error) {
			r.ParseForm()
			if r.PostForm.Get("device_code") != "dc-new" {
				t.Errorf("polled %s with %q", other, r.PostForm.Get("device_code"))
				return httpmock.NewStringResponse(400, `{"error":"invalid_grant"}`), nil
			}
			return httpmock.NewStringResponse(400, `{"error":"authorization_pending"}`), nil
		})
		err := cmdtest.Execute(bg, NewCmdRegister(e.F, nil), "--server", other, "--no-wait")
		if err != nil {
			t.Fatalf("trusted=%v: %v\n%s", trusted, err, e.ErrOut)
		}
		id := e.Get("default", keystore.ItemDeviceID)
		if registered == "" || registered == cmdtest.DeviceID || id != registered {
			t.Errorf("trusted=%v: registered %q, stored %q; want a new device id", trusted, registered, id)
		}
		if e.Get("default", keystore.ItemDevicePrivateKey) == oldKey {
			t.Errorf("trusted=%v: the old server's device key was reused", trusted)
		}
		for _, it := range []string{keystore.ItemUserRefreshToken, keystore.ItemUserAccessToken, keystore.ItemDeviceRefreshToken} {
			if e.Get("default", it) != "" {
				t.Errorf("trusted=%v: %s of the old server kept", trusted, it)
			}
		}
		if p, _ := e.Config(t).Profile("default"); p.Server != other {
			t.Errorf("trusted=%v: server %q", trusted, p.Server)
		}
		if !strings.Contains(e.ErrOut.String(), "Profile default moves from "+cmdtest.Server+" to "+other) {
			t.Errorf("trusted=%v: stderr %q", trusted, e.ErrOut)
		}
	}
}
