package serve

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

func TestAllowedHostFlag(t *testing.T) {
	parse := func(args ...string) (*Options, error) {
		ios, _, _, _ := iostreams.Test()
		var got *Options
		cmd := newCmdServer(&cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}, func(_ context.Context, o *Options) error {
			got = o
			return nil
		})
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		return got, cmd.Execute()
	}
	o, err := parse("--allowed-host", "mybox.lan", "--allowed-host", "192.168.1.5:7300")
	if err != nil || strings.Join(o.AllowedHosts, " ") != "mybox.lan 192.168.1.5:7300" {
		t.Fatalf("parsed %v, %v", o, err)
	}
	for _, bad := range []string{"http://mybox.lan", "my box", "a/b", ""} {
		_, err := parse("--allowed-host", bad)
		want := `invalid --allowed-host "` + bad + `": give a host name or IP address, e.g. --allowed-host myhost.lan`
		if err == nil || err.Error() != want || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("--allowed-host %q: %v, want usage error %q", bad, err, want)
		}
	}
	// The suggested flag works as printed.
	if _, err := parse("--allowed-host", "myhost.lan"); err != nil {
		t.Errorf("suggested flag: %v", err)
	}
}

func TestCheckHostOnLoopback(t *testing.T) {
	for _, c := range []struct {
		addr, oauth string
		want        bool
	}{
		{"127.0.0.1:7300", "", true},
		{"localhost:0", "", true},
		{"[::1]:0", "127.0.0.1:7400", true},
		{"0.0.0.0:7300", "", false},
		{":7300", "", false},
		{"127.0.0.1:7300", "0.0.0.0:7400", false},
		{"paragon.example:7300", "", false},
	} {
		o := &Options{Addr: c.addr, OAuthAddr: c.oauth}
		if got := o.checkHost(); got != c.want {
			t.Errorf("--addr %q --oauth-addr %q: checkHost %v, want %v", c.addr, c.oauth, got, c.want)
		}
	}
}

// TestServeHostCheck: on loopback both listeners refuse other host names
// with 421 and serve loopback names and --allowed-host names.
func TestServeHostCheck(t *testing.T) {
	r := startServer(t, &Options{OAuthAddr: "127.0.0.1:0", AllowedHosts: []string{"paragon.test"}})
	get := func(base, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/healthz", nil)
		req.Host = host
		return send(t, req)
	}
	for _, base := range []string{r.info.BaseURL, r.info.OAuthURL} {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
		for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "paragon.test:" + port, "PARAGON.TEST"} {
			if code, body := get(base, host); code != 200 {
				t.Errorf("%s with Host %s: %d %s", base, host, code, body)
			}
		}
		code, body := get(base, "evil.example:"+port)
		var e map[string]string
		_ = json.Unmarshal([]byte(body), &e)
		if code != http.StatusMisdirectedRequest || e["error"] != "misdirected_request" || !strings.Contains(e["error_description"], "--allowed-host evil.example") {
			t.Errorf("%s with Host evil.example: %d %s", base, code, body)
		}
	}
}

// TestListeningOnce: people read "listening on URL" once, at the end of the
// banner; a JSON log also gets one record for machines.
func TestListeningOnce(t *testing.T) {
	r := startServer(t, &Options{})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(r.stdout.String()+r.stderr.String(), "listening"); n != 1 {
		t.Errorf("%d times listening:\n%s\n%s", n, r.stdout, r.stderr)
	}
	j := startServer(t, &Options{LogFormat: "json"})
	if err := j.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(j.stderr.String(), `"msg":"listening"`); n != 1 {
		t.Errorf("JSON log has %d listening records:\n%s", n, j.stderr)
	}
}

// TestBusyPortSuggestsPortZero: a port in use is named, with the flag that
// picks a free one, for each listener.
func TestBusyPortSuggestsPortZero(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Addr: busy.Addr().String()}, "another process uses the port; --addr 127.0.0.1:0 picks a free one and prints it"},
		{Options{Addr: "127.0.0.1:0", OAuthAddr: busy.Addr().String()}, "another process uses the port; --oauth-addr 127.0.0.1:0 picks a free one and prints it"},
	} {
		ios, _, _, _ := iostreams.Test()
		o := c.o
		o.IO, o.LogFormat, o.PasswordCost = ios, "text", 4
		err := run(context.Background(), &o)
		if err == nil || !strings.HasPrefix(err.Error(), "cannot listen on "+busy.Addr().String()+": ") || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("error = %v, want it to end with %q", err, c.want)
		}
		// The suggestion works as printed.
		if err := checkAddr("--addr", "127.0.0.1:0"); err != nil {
			t.Error(err)
		}
	}
}

// send sends req and returns the status and body of the answer.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
