// Package cli runs the real paragon command, as a user would, against the
// reference server: .txtar scripts in testdata (github.com/rogpeppe/
// go-internal/testscript), each in a fresh home directory with its own
// in-process server on a fake clock.
//
// $SERVER is the server over HTTP, $TLS_SERVER the same server over HTTPS
// with its certificate in $WORK/ca.pem; $HOSTPORT and $TLS_HOSTPORT are
// their host:port. Besides paragon, the scripts have
// these commands:
//
//	admin approve              approve every pending device
//	admin clock DURATION       move the server's fake clock forward
//	admin key NAME FIELD VALUE change an API key (PATCH /admin/api/keys)
//	exits CODE paragon ARGS... run paragon and check its exit code
//	serve NAME CONFIG          start paragon server --config CONFIG as its
//	                           own process, with its OAuth service on a
//	                           port of its own; $NAME_URL and $NAME_OAUTH
//	                           are their URLs (admin token $ADMIN_TOKEN)
//	share REPORT MIN TAG,...   check that at least MIN% of the scenarios
//	                           of a JSON report with one of the tags passed
//	hint CODE [ARGS...]        run the command the last command's stderr
//	                           suggested ("run: paragon ..." ending a line)
//	                           as printed, ARGS appended, and check its
//	                           exit code
package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/bcrypt"

	"github.com/paragon-cli/paragon/cmd/root"
	"github.com/paragon-cli/paragon/keystore"
	"github.com/paragon-cli/paragon/server"
)

// requireSecretServiceEnv, set to 1 (as .ci/run does), turns the keyring
// script's skip without a Secret Service into a failure.
const requireSecretServiceEnv = "PARAGON_REQUIRE_SECRET_SERVICE"

// adminToken is the reference server's admin token in the scripts.
const adminToken = "t"

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"paragon": func() { os.Exit(root.Main()) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata",
		Setup: setup,
		Condition: func(cond string) (bool, error) {
			if cond == "keyring" {
				ok := keyringUsable()
				if !ok && os.Getenv(requireSecretServiceEnv) == "1" {
					// CI (.ci/run) has an unlocked gnome-keyring: the keyring
					// script must run there, not skip.
					return false, fmt.Errorf("%s=1 but no unlocked Secret Service answers on this D-Bus session", requireSecretServiceEnv)
				}
				return ok, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"admin": adminCmd,
			"exits": exitsCmd,
			"hint":  hintCmd,
			"serve": serveCmd,
			"share": shareCmd,
		},
	})
}

// referenceServer starts a reference server (fake clock, cheapest password
// cost, the admin token adminToken) for a Go test and returns its URL; it
// stops when the test ends.
func referenceServer(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.Options{FakeClock: true, PasswordCost: bcrypt.MinCost, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return hs.URL
}

// setup starts a reference server for one script and points paragon's
// files at the script's work directory.
func setup(env *testscript.Env) error {
	srv, err := server.New(server.Options{FakeClock: true, PasswordCost: bcrypt.MinCost, AdminToken: adminToken})
	if err != nil {
		return err
	}
	hs := httptest.NewServer(srv)
	// The same server over HTTPS, its certificate in $WORK/ca.pem.
	tlsSrv := httptest.NewUnstartedServer(srv)
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are part of the tests
	tlsSrv.StartTLS()
	env.Defer(func() {
		hs.Close()
		tlsSrv.Close()
		srv.Close()
	})
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(env.WorkDir, "ca.pem"), caPEM, 0o600); err != nil {
		return err
	}
	env.Setenv("SERVER", hs.URL)
	env.Setenv("TLS_SERVER", tlsSrv.URL)
	// host:port of each, to try the wrong scheme.
	env.Setenv("HOSTPORT", strings.TrimPrefix(hs.URL, "http://"))
	env.Setenv("TLS_HOSTPORT", strings.TrimPrefix(tlsSrv.URL, "https://"))
	env.Setenv("ADMIN_TOKEN", adminToken)
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
	env.Setenv("NO_COLOR", "1")
	// No Secret Service for the scripts: secrets go to a file, chosen
	// explicitly in each script with --insecure-storage.
	env.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(env.WorkDir, "no-dbus"))
	// The keyring script puts the real session bus back.
	env.Setenv("REAL_DBUS_SESSION_BUS_ADDRESS", os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	return nil
}

// admin calls the reference server's admin API.
func admin(ts *testscript.TestScript, method, path string, body any) ([]byte, error) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, ts.Getenv("SERVER")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, buf.String())
	}
	return buf.Bytes(), nil
}

func adminCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! admin")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: admin approve | clock DURATION | key NAME FIELD VALUE")
	}
	switch args[0] {
	case "approve":
		b, err := admin(ts, "GET", "/admin/api/devices", nil)
		ts.Check(err)
		var list struct {
			Items []struct {
				ClientID string `json:"client_id"`
				Status   string `json:"status"`
			} `json:"items"`
		}
		ts.Check(json.Unmarshal(b, &list))
		n := 0
		for _, d := range list.Items {
			if d.Status == "pending" {
				_, err := admin(ts, "POST", "/admin/api/devices/"+d.ClientID+"/approve", nil)
				ts.Check(err)
				n++
			}
		}
		if n == 0 {
			ts.Fatalf("no pending device to approve")
		}
	case "clock":
		if len(args) != 2 {
			ts.Fatalf("usage: admin clock DURATION")
		}
		// Polling politely: the server counts fake-clock time too.
		_, err := admin(ts, "POST", "/admin/api/clock", map[string]string{"advance": args[1]})
		ts.Check(err)
	case "key":
		if len(args) != 4 {
			ts.Fatalf("usage: admin key NAME FIELD VALUE")
		}
		var v any = args[3]
		if b, err := strconv.ParseBool(args[3]); err == nil {
			v = b
		}
		_, err := admin(ts, "PATCH", "/admin/api/keys/"+args[1], map[string]any{args[2]: v})
		ts.Check(err)
	default:
		ts.Fatalf("unknown admin command %q", args[0])
	}
}

// exitsCmd runs a command and checks its exit code; its output is kept for
// the stdout and stderr commands that follow.
func exitsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command args...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("running %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// suggestion finds the last "run: paragon ..." that ends a line.
var suggestion = regexp.MustCompile(`(?m)run: paragon ([^\n]*)$`)

// hintCmd runs the command the last command suggested, exactly as printed,
// with args[1:] appended (such as --no-wait, or --user and --password-stdin
// where a terminal would prompt), and checks its exit code: suggested
// commands must work as printed.
func hintCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: hint CODE [ARGS...]")
	}
	m := suggestion.FindAllStringSubmatch(ts.ReadFile("stderr"), -1)
	if len(m) == 0 {
		ts.Fatalf("the last command suggested no command (no \"run: paragon ...\" line)")
	}
	words := strings.Fields(m[len(m)-1][1])
	ts.Logf("running the suggestion: paragon %s", strings.Join(words, " "))
	exitsCmd(ts, false, append(append([]string{args[0], "paragon"}, words...), args[1:]...))
}

func httptestRequest(ctx context.Context, method, url, body string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

func doAdmin(t *testing.T, req *http.Request) []byte {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, buf.String())
	}
	return buf.Bytes()
}

// keyringUsable reports whether this test process can reach an unlocked
// Secret Service (CI runs the tests under dbus-run-session with
// gnome-keyring; see .ci/run).
func keyringUsable() bool {
	return os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" && keystore.NewKeyring(2*time.Second).Probe() == nil
}

// serveCmd starts `paragon server --config CONFIG` as a process of its own
// on free ports, with its OAuth service on a second listener, and stops it
// when the script ends.
func serveCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serve NAME CONFIG")
	}
	bin, err := exec.LookPath("paragon")
	ts.Check(err)
	// bcrypt at its lowest cost: the scripts check the protocol, and the
	// default cost under the race detector would stretch scenarios past the
	// few-second lifetimes they run with.
	cmd := exec.Command(bin, "server", "--config", ts.MkAbs(args[1]), "--addr", "127.0.0.1:0", "--oauth-addr", "127.0.0.1:0",
		"--admin-token", ts.Getenv("ADMIN_TOKEN"), "--password-cost", "4")
	cmd.Env = []string{"HOME=" + ts.Getenv("HOME"), "NO_COLOR=1", "PATH=" + os.Getenv("PATH")}
	out, err := cmd.StdoutPipe()
	ts.Check(err)
	cmd.Stderr = io.Discard
	ts.Check(cmd.Start())
	ts.Defer(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	oauthRow := regexp.MustCompile(`(https?://\S+)/oauth/v1`)
	var oauth string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				ts.Fatalf("paragon server ended before it listened")
			}
			if m := oauthRow.FindStringSubmatch(l); m != nil {
				oauth = m[1]
			}
			if u, ok := strings.CutPrefix(l, "listening on "); ok {
				if oauth == "" || oauth == u {
					ts.Fatalf("no separate OAuth listener in the banner (OAuth %q, API %q)", oauth, u)
				}
				ts.Setenv(args[0]+"_URL", u)
				ts.Setenv(args[0]+"_OAUTH", oauth)
				go func() { // the banner is all; keep the pipe drained
					for range lines {
					}
				}()
				return
			}
		case <-timeout:
			ts.Fatalf("paragon server did not say where it listens within 30 s")
		}
	}
}

// shareCmd checks the share of a report's scenarios with one of the tags
// that passed (rather than skipped or failed), and logs it.
func shareCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: share REPORT MIN TAG,...")
	}
	var rep struct {
		Scenarios []struct {
			Name, Status, Reason string
			Tags                 []string
		}
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &rep))
	min, err := strconv.Atoi(args[1])
	ts.Check(err)
	tags := strings.Split(args[2], ",")
	total, passed := 0, 0
	for _, s := range rep.Scenarios {
		if !slices.ContainsFunc(s.Tags, func(t string) bool { return slices.Contains(tags, t) }) {
			continue
		}
		total++
		if s.Status == "PASSED" {
			passed++
		} else {
			ts.Logf("%s %s %s", s.Status, s.Name, s.Reason)
		}
	}
	ts.Logf("%d of %d scenarios tagged %s passed (%d%%)", passed, total, args[2], passed*100/max(total, 1))
	if total == 0 || passed*100 < min*total {
		ts.Fatalf("%d of %d passed, below %d%%", passed, total, min)
	}
}
