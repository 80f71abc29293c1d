package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startKeyring is the start of a script run under dbus-run-session: it
// starts gnome-keyring-daemon with an unlocked login keyring (password pw)
// and waits until the daemon owns org.freedesktop.secrets.
//
// gnome-keyring-daemon --unlock returns before its daemon owns the name
// org.freedesktop.secrets (some 50 ms later): a call before that has D-Bus
// start a second daemon, which can outlive the session and keep its output
// open, so that Run never returns. The script waits for the name first.
const startKeyring = `set -e
echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
n=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true'; do
  n=$((n + 1))
  if [ "$n" -ge 600 ]; then echo "gnome-keyring-daemon did not take org.freedesktop.secrets in 30 s" >&2; exit 1; fi
  sleep 0.05
done
`

// TestLockedKeyring runs paragon against a real Secret Service that is
// present but locked: gnome-keyring-daemon in a private D-Bus session, its
// login keyring created and then locked, and no prompter that could unlock
// it. Every command must come back at once (the keyring calls have a 3 s
// timeout) with one line that says what is wrong and what to do, and a
// profile whose secrets live in the keyring must never fall back to a file.
func TestLockedKeyring(t *testing.T) {
	needTools(t, "dbus-run-session", "dbus-send", "gnome-keyring-daemon")
	paragon, err := exec.LookPath("paragon") // put on PATH by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	base := referenceServer(t)
	home := t.TempDir()
	cfgDir := filepath.Join(home, ".config", "paragon")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A profile whose secrets are in the keyring, as device register left it.
	config := "profiles:\n    default:\n        server: " + base + "\n        keystore: keyring\n"
	if err := os.WriteFile(filepath.Join(cfgDir, "config.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	// Inside the private session: create and unlock the login keyring, lock
	// it again through the Secret Service API, then run each paragon command
	// with its stderr in a file of its own (dbus-daemon logs to the
	// session's stderr) and its exit code after it.
	cmds := map[string]string{
		"status":   "status",
		"token":    "token",
		"keyring":  "device register --keystore keyring --profile other --server " + base + " --api-key paragon-dev-key --no-wait",
		"newauto":  "device register --profile fresh --server " + base + " --api-key paragon-dev-key --no-wait",
		"loggedin": "api version",
	}
	script := startKeyring + `dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
  org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null
set +e
`
	for name, args := range cmds {
		script += `"$PARAGON" ` + args + ` >"$OUT/` + name + `.out" 2>"$OUT/` + name + `.err" </dev/null; echo $? >"$OUT/` + name + `.code"` + "\n"
	}
	out := t.TempDir()
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"), "PARAGON="+paragon, "OUT="+out, "NO_COLOR=1")
	var session bytes.Buffer
	cmd.Stdout, cmd.Stderr = &session, &session
	// A process left holding the output must fail the test, not hang it.
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("dbus-run-session: %v\n%s", err, session.String())
	}
	// Five commands; each may wait out one 3 s keyring timeout at most.
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the commands took %s against a locked keyring: something waited for it", took)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("%v (session output: %s)", err, session.String())
		}
		return string(b)
	}
	const advice = "unlock the keyring, or keep secrets in a plain file with --insecure-storage"
	for _, name := range []string{"status", "token", "keyring", "loggedin"} {
		code, stderr, stdout := strings.TrimSpace(read(name+".code")), read(name+".err"), read(name+".out")
		if code != "1" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "the OS keyring is not usable") || !strings.Contains(stderr, advice) || stdout != "" {
			t.Errorf("paragon %s with a locked keyring: exit %s, stdout %q, stderr %q; want exit 1 and one line saying to unlock the keyring", cmds[name], code, stdout, stderr)
		}
	}
	// A new profile with the default --keystore auto falls back to the file,
	// loudly.
	if stderr := read("newauto.err"); !strings.Contains(stderr, "WARNING: no usable OS keyring") {
		t.Errorf("new profile with a locked keyring: stderr %q lacks the fallback warning", stderr)
	}
	cfg, err := os.ReadFile(filepath.Join(cfgDir, "config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "keystore: keyring") {
		t.Errorf("the keyring profile changed store:\n%s", cfg)
	}
}

// needTools skips the test when a tool is missing (fails under
// PARAGON_REQUIRE_SECRET_SERVICE=1, as in CI).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(requireSecretServiceEnv) == "1" {
				t.Fatalf("%s=1 but %s is not installed", requireSecretServiceEnv, tool)
			}
			t.Skipf("%s not installed: apt-get install dbus gnome-keyring to run this test", tool)
		}
	}
}
