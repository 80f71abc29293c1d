package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/internal/testutil"
)

// paragonBin is the binary built once by TestMain; buildErr says why there
// is none.
var (
	paragonBin string
	buildErr   error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "paragon-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	paragonBin, buildErr = build(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles ./cmd/paragon into dir.
func build(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goBin = filepath.Join(root, "bin", "go")
		} else {
			return "", fmt.Errorf("the go command is not on PATH: %w", err)
		}
	}
	bin := filepath.Join(dir, "paragon")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/paragon")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/paragon: %v\n%s", err, out)
	}
	return bin, nil
}

// binary returns the built paragon binary or fails the test.
func binary(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building paragon: %v", buildErr)
	}
	return paragonBin
}

// needTools skips the test when one of the programs is missing.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed; install it (apt-get install %s) to run this test", n, n)
		}
	}
}

// serverProc is a running `paragon server`.
type serverProc struct {
	cmd    *exec.Cmd
	URL    string // from the banner's "listening on URL" line
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer
	exited chan struct{} // closed once the process was waited for
	state  *os.ProcessState
}

// testEnv is the environment of subprocesses: HOME and the config
// directory in a temporary directory.
func testEnv(t *testing.T) []string {
	home := t.TempDir()
	return append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "TMPDIR="+home, "NO_COLOR=1")
}

// startServer runs `paragon server args...` and waits for its listen line.
// The process is killed when the test ends.
func startServer(t *testing.T, args ...string) *serverProc {
	t.Helper()
	p := &serverProc{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary(t), append([]string{"server"}, args...)...)
	p.cmd.Env = testEnv(t)
	p.cmd.Stderr = p.stderr
	pipe, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.stdout.Write([]byte(line + "\n"))
			if u, ok := strings.CutPrefix(line, "listening on "); ok {
				select {
				case urlc <- u:
				default:
				}
			}
		}
		io.Copy(io.Discard, pipe)
	}()
	go func() {
		<-copied
		p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.URL = <-urlc:
	case <-p.exited:
		t.Fatalf("paragon server exited before listening: %v\nstdout:\n%s\nstderr:\n%s", p.state, p.stdout, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("paragon server did not print its listen line\nstdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	}
	return p
}

// signal sends sig and waits (up to 15 s) for the process to exit.
func (p *serverProc) signal(t *testing.T, sig os.Signal) *os.ProcessState {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		return p.state
	case <-time.After(15 * time.Second):
		t.Fatalf("paragon server did not exit after %v", sig)
		return nil
	}
}

// runParagon runs the binary to completion and returns its output and exit code.
func runParagon(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = testEnv(t)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}
