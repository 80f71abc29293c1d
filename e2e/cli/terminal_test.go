package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tmuxSession drives a program in a real terminal (tmux) for tests.
type tmuxSession struct {
	t    *testing.T
	sock string
}

func newTmux(t *testing.T, env []string, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed: install tmux (apt-get install tmux) to run the terminal session test")
	}
	s := &tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	// The command runs under env; its exit code is printed so the test can
	// read it, and the pane stays open for capture.
	script := "env " + strings.Join(env, " ") + " " + command + "; echo EXIT=$?; sleep 600"
	s.run("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "220", "-y", "40", script)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-u", "-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p", "-J", "-t", "t") }

// waitFor polls the screen until it contains want, failing after a deadline.
func (s *tmuxSession) waitFor(want string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := s.screen()
		if strings.Contains(scr, want) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal never showed %q; screen:\n%s", want, scr)
		}
		time.Sleep(20 * time.Millisecond) // polling the terminal, bounded by the deadline
	}
}

// waitEchoOff polls the pane's terminal (stty -F) until its echo is off.
// paragon prints the password prompt and then turns echo off, so keys sent
// as soon as the prompt shows can reach the terminal first: typed text is
// echoed, and a Ctrl-C can end paragon before it has switched echo off, its
// reader then switching it off after the restore. The tests type at a
// password prompt only once the terminal no longer echoes.
func (s *tmuxSession) waitEchoOff() {
	s.t.Helper()
	tty := strings.TrimSpace(s.run("display-message", "-p", "-t", "t", "#{pane_tty}"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command("stty", "-a", "-F", tty).CombinedOutput()
		if err != nil {
			s.t.Fatalf("stty -a -F %s: %v: %s", tty, err, out)
		}
		if slices.Contains(strings.Fields(string(out)), "-echo") {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal still echoes after the password prompt; stty -a:\n%s\nscreen:\n%s", out, s.screen())
		}
		time.Sleep(20 * time.Millisecond) // polling the terminal, bounded by the deadline
	}
}

func (s *tmuxSession) send(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "t"}, keys...)...)
}

// TestTerminalSession types into paragon in a real terminal: the login
// prompts (the password is not echoed) and the approval spinner stopped
// with Ctrl-C.
func TestTerminalSession(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv(requireSecretServiceEnv) == "1" {
			// Set by .ci/run, which installs tmux with the keyring: in CI
			// this test must run.
			t.Fatalf("%s=1 (CI) but tmux is not installed", requireSecretServiceEnv)
		}
		t.Skip("tmux not installed: install tmux (apt-get install tmux) to run the terminal session test")
	}
	paragon, err := exec.LookPath("paragon") // put on PATH by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	base := referenceServer(t)
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "NO_COLOR=1", "LANG=C.UTF-8", "TERM=xterm-256color"}

	// Set up a trusted device without a terminal.
	cmd := exec.Command(paragon, "device", "register", "--server", base, "--api-key", "paragon-dev-key", "--insecure-storage", "--no-wait")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	ts := &adminClient{url: base}
	ts.approveAll(t)
	ts.post(t, "/admin/api/clock", `{"advance":"6s"}`)

	t.Run("login prompts", func(t *testing.T) {
		s := newTmux(t, env, paragon+" login")
		s.waitFor("User name:")
		s.send("alice", "Enter")
		s.waitFor("Password for alice:")
		s.waitEchoOff()
		s.send("wonderland", "Enter")
		scr := s.waitFor("EXIT=")
		if !strings.Contains(scr, "✓ Logged in to "+base+" as alice") || !strings.Contains(scr, "EXIT=0") {
			t.Fatalf("login failed; screen:\n%s", scr)
		}
		if strings.Contains(scr, "wonderland") {
			t.Fatalf("the password was echoed; screen:\n%s", scr)
		}
	})

	t.Run("a wrong password is asked for again", func(t *testing.T) {
		s := newTmux(t, env, paragon+" login --user bob")
		prompt := func(n int) { // waits for the n-th prompt
			t.Helper()
			deadline := time.Now().Add(20 * time.Second)
			for strings.Count(s.screen(), "Password for bob:") < n {
				if time.Now().After(deadline) {
					t.Fatalf("no prompt %d; screen:\n%s", n, s.screen())
				}
				time.Sleep(20 * time.Millisecond) // polling the terminal, bounded by the deadline
			}
			s.waitEchoOff()
		}
		for n := 1; n <= 2; n++ {
			prompt(n)
			s.send("not-it", "Enter")
		}
		prompt(3)
		s.send("builder", "Enter")
		scr := s.waitFor("EXIT=")
		if !strings.Contains(scr, "✓ Logged in to "+base+" as bob") || !strings.Contains(scr, "EXIT=0") || strings.Count(scr, "Wrong user name or password; try again.") != 2 {
			t.Fatalf("third try failed; screen:\n%s", scr)
		}
	})

	t.Run("colour only on a terminal without NO_COLOR or --no-color", func(t *testing.T) {
		var colourEnv []string
		for _, kv := range env {
			if !strings.HasPrefix(kv, "NO_COLOR=") {
				colourEnv = append(colourEnv, kv)
			}
		}
		list := paragon + " profile list"
		s := newTmux(t, colourEnv, "sh -c '"+list+"; echo MARK-no-color; "+list+" --no-color; echo MARK-NO_COLOR; NO_COLOR=1 "+list+"; echo MARK-piped; "+list+" | cat'")
		s.waitFor("EXIT=0")
		scr := s.run("capture-pane", "-p", "-e", "-J", "-t", "t") // with the cells' styles as escape sequences
		parts := strings.Split(scr, "MARK-")
		if len(parts) != 4 {
			t.Fatalf("unexpected screen:\n%s", scr)
		}
		if !strings.Contains(parts[0], "\x1b[1m") {
			t.Errorf("the current profile is not bold on a terminal:\n%q", parts[0])
		}
		for _, p := range parts[1:] {
			if strings.Contains(p, "\x1b[1m") {
				t.Errorf("styled output after %q:\n%q", strings.SplitN(p, "\n", 2)[0], p)
			}
		}
	})

	t.Run("Ctrl-C at the password prompt", func(t *testing.T) {
		// After the interrupted prompt the shell reads a line: it must be
		// echoed again, proving the terminal was restored.
		s := newTmux(t, env, paragon+" login; echo EXIT=$?; read -r line; echo GOT=$line")
		s.waitFor("User name:")
		s.send("alice", "Enter")
		s.waitFor("Password for alice:")
		s.waitEchoOff()
		s.send("C-c")
		scr := s.waitFor("EXIT=")
		if !strings.Contains(scr, "paragon: interrupted") || !strings.Contains(scr, "EXIT=130") {
			t.Fatalf("Ctrl-C at the prompt; screen:\n%s", scr)
		}
		s.send("visible-again", "Enter")
		scr = s.waitFor("GOT=visible-again")
		if strings.Count(scr, "visible-again") < 2 {
			t.Fatalf("echo not restored after Ctrl-C (typed text not shown); screen:\n%s", scr)
		}
	})

	t.Run("spinner and Ctrl-C", func(t *testing.T) {
		s := newTmux(t, env, paragon+" device register --profile second --server "+base+" --api-key paragon-dev-key --insecure-storage")
		scr := s.waitFor("Waiting for approval of device")
		if !strings.ContainsAny(scr, "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
			t.Errorf("no spinner on the terminal; screen:\n%s", scr)
		}
		if !strings.Contains(scr, base+"/admin") {
			t.Errorf("the screen does not say where to approve; screen:\n%s", scr)
		}
		s.send("C-c")
		scr = s.waitFor("EXIT=")
		if !strings.Contains(scr, "stopped waiting; device") || !strings.Contains(scr, "EXIT=130") {
			t.Fatalf("Ctrl-C did not stop cleanly; screen:\n%s", scr)
		}
	})
}

// adminClient calls the reference server's admin API outside a script.
type adminClient struct{ url string }

func (a *adminClient) post(t *testing.T, path, body string) []byte {
	t.Helper()
	req, _ := httptestRequest(context.Background(), "POST", a.url+path, body)
	return doAdmin(t, req)
}

func (a *adminClient) approveAll(t *testing.T) {
	t.Helper()
	req, _ := httptestRequest(context.Background(), "GET", a.url+"/admin/api/devices", "")
	b := doAdmin(t, req)
	for _, part := range bytes.Split(b, []byte(`"client_id":"`))[1:] {
		id := string(part[:bytes.IndexByte(part, '"')])
		a.post(t, "/admin/api/devices/"+id+"/approve", "")
	}
}
