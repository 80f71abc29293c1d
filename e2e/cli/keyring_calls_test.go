package cli

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// maxKeyringCalls is what one `paragon api` may cost with its secrets in the
// Secret Service: Hello, Unlock (the probe), OpenSession, a SearchItems for
// each of the API key, the access token and the refresh token, and one
// GetSecrets. Reading each item with go-keyring took 25.
const maxKeyringCalls = 7

// TestKeyringCallsPerAPICall counts the D-Bus method calls that one
// `paragon api version` makes when its secrets are in a real Secret Service
// (gnome-keyring-daemon in a private D-Bus session, watched by
// dbus-monitor), and checks that it reads what it needs in one round
// instead of one keyring operation per item.
func TestKeyringCallsPerAPICall(t *testing.T) {
	needTools(t, "dbus-run-session", "dbus-send", "dbus-monitor", "gnome-keyring-daemon")
	paragon, err := exec.LookPath("paragon") // put on PATH by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	base := referenceServer(t)
	// The demo key trusts devices at once, so that login needs no admin.
	req, _ := http.NewRequest("PATCH", base+"/admin/api/keys/default", strings.NewReader(`{"auto_trust":true}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("setting auto_trust: %v %v", resp, err)
	}
	resp.Body.Close()

	// Log in with the secrets in the keyring, start dbus-monitor and wait
	// until it sees a Ping (so that it sees everything after), then make
	// one API call and wait until the monitor has seen a GetId sent after
	// it.
	script := startKeyring + `echo paragon-dev-key | "$PARAGON" device register --server "$SERVER" --api-key-stdin --keystore keyring >/dev/null 2>&1
echo wonderland | "$PARAGON" login --user alice --password-stdin >/dev/null 2>&1
grep -q 'keystore: keyring' "$XDG_CONFIG_HOME/paragon/config.yml"
dbus-monitor --session "type='method_call'" >"$OUT/monitor" 2>/dev/null &
mon=$!
n=0
until grep -q member=Ping "$OUT/monitor"; do
  n=$((n + 1)); [ "$n" -lt 200 ] || { echo "dbus-monitor saw no Ping" >&2; kill $mon; exit 1; }
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Peer.Ping >/dev/null
  sleep 0.05
done
"$PARAGON" api version >"$OUT/api.out" 2>"$OUT/api.err"
n=0
until grep -q member=GetId "$OUT/monitor"; do
  n=$((n + 1)); [ "$n" -lt 200 ] || { echo "dbus-monitor saw no GetId" >&2; kill $mon; exit 1; }
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null
  sleep 0.05
done
kill $mon
`
	home, out := t.TempDir(), t.TempDir()
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"), "PARAGON="+paragon, "SERVER="+base, "OUT="+out, "NO_COLOR=1")
	var session bytes.Buffer
	cmd.Stdout, cmd.Stderr = &session, &session
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("dbus-run-session: %v\n%s", err, session.String())
	}
	if b, _ := os.ReadFile(filepath.Join(out, "api.out")); !bytes.Contains(b, []byte(`"apiVersion":"v1"`)) {
		e, _ := os.ReadFile(filepath.Join(out, "api.err"))
		t.Fatalf("paragon api version: stdout %q, stderr %q", b, e)
	}
	monitor, err := os.ReadFile(filepath.Join(out, "monitor"))
	if err != nil {
		t.Fatal(err)
	}
	if n := secretsClients(string(monitor)); n != 1 {
		t.Errorf("%d D-Bus connections called the Secret Service during one paragon api call, want 1 (a read started early and then made again?)", n)
	}
	calls := paragonCalls(string(monitor))
	t.Logf("D-Bus method calls of one paragon api call: %d (%s)", len(calls), strings.Join(calls, ", "))
	if len(calls) == 0 || len(calls) > maxKeyringCalls {
		t.Errorf("one paragon api call made %d D-Bus method calls, want at most %d:\n%s", len(calls), maxKeyringCalls, strings.Join(calls, "\n"))
	}
}

var monitorCall = regexp.MustCompile(`(?m)^method call time=\S+ sender=(\S+) -> destination=(\S+) .*member=(\w+)$`)

// paragonCalls returns the members of the method calls made by the one
// connection that called the Secret Service (dbus-send's markers do not;
// gnome-keyring's own calls come from its connection).
func paragonCalls(monitor string) []string {
	var sender string
	for _, m := range monitorCall.FindAllStringSubmatch(monitor, -1) {
		if m[2] == "org.freedesktop.secrets" {
			sender = m[1]
			break
		}
	}
	var calls []string
	for _, m := range monitorCall.FindAllStringSubmatch(monitor, -1) {
		if sender != "" && m[1] == sender {
			calls = append(calls, m[3])
		}
	}
	return calls
}

// secretsClients counts the connections that called the Secret Service.
func secretsClients(monitor string) int {
	senders := map[string]bool{}
	for _, m := range monitorCall.FindAllStringSubmatch(monitor, -1) {
		if m[2] == "org.freedesktop.secrets" {
			senders[m[1]] = true
		}
	}
	return len(senders)
}
