package scenario

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/server"
)

func TestExploreFlags(t *testing.T) {
	t.Setenv("PARAGON_API_KEY", "")
	t.Setenv("PARAGON_ADMIN_TOKEN", "")
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--admin-url", "http://s"}, "--admin-url needs --server"},
		{[]string{"--server", "http://s"}, "give --admin-url and --admin-token"},
		{[]string{"--concurrency", "0"}, "--concurrency must be at least 1"},
		{[]string{"--steps", "-1"}, "--steps must be at least 1"},
		{[]string{"--out", ""}, "--out needs a file name"},
		{[]string{"--report", "xml=x"}, "unknown format"},
		{[]string{"extra"}, "unknown command"},
		{[]string{"--target", "t.yaml", "--admin-url", "http://s"}, "--admin-url contradicts --target t.yaml"},
		{[]string{"--target", "t.yaml", "--admin-token", "x"}, "--admin-token contradicts --target t.yaml"},
		{[]string{"--target", "t.yaml", "--api-key", "k"}, "--api-key contradicts --target t.yaml: declare it in the file instead"},
		{[]string{"--target", filepath.Join(t.TempDir(), "missing.yaml")}, "--target: cannot read"},
	} {
		ios, _, _, _ := iostreams.Test()
		code, err := execute(t, ios, func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdExplore(f, func(context.Context, *ExploreOptions) error { return nil })
		}, append([]string{"explore"}, tt.args...)...)
		if code != cmdutil.ExitUsage || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q: exit %d, %v; want 2 and %q", tt.args, code, err, tt.wantErr)
		}
	}
}

// TestExploreEmbedded runs a short exploration of the embedded server: no
// violation, exit 0, the seed and the coverage printed, a JSON report, no
// failure file.
func TestExploreEmbedded(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "failure.yaml")
	ios, _, stdout, stderr := iostreams.Test()
	code, err := execute(t, ios, group, "scenario", "explore", "--seed", "5", "--steps", "2000", "--out", out, "--report", "json="+filepath.Join(dir, "r.json"))
	if code != 0 {
		t.Fatalf("exit %d: %v\n%s\n%s", code, err, stdout, stderr)
	}
	for _, want := range []string{"seed 5: 2000 operations", "refresh: 200", "device refused", "no violation found"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr.String(), "with seed 5") {
		t.Errorf("stderr: %s", stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failure file without a failure: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "r.json")); err != nil || !strings.Contains(string(b), `"explore-seed-5"`) {
		t.Errorf("report: %v %s", err, b)
	}
}

// TestExploreOutsideServer explores a reference server over HTTP through its
// admin API, and reports an unreachable one with exit 3.
func TestExploreOutsideServer(t *testing.T) {
	srv, err := server.New(server.Options{Account: server.DemoAccount(), FakeClock: true, PasswordCost: 4, AdminToken: "adm-token-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ios, _, stdout, stderr := iostreams.Test()
	code, err := execute(t, ios, group, "scenario", "explore", "--server", hs.URL, "--admin-url", hs.URL, "--admin-token", "adm-token-1", "--steps", "300", "--seed", "3", "--out", filepath.Join(t.TempDir(), "f.yaml"))
	if code != 0 {
		t.Fatalf("exit %d: %v\n%s\n%s", code, err, stdout, stderr)
	}
	ios, _, _, _ = iostreams.Test()
	code, err = execute(t, ios, group, "scenario", "explore", "--server", hs.URL, "--admin-url", hs.URL, "--admin-token", "wrong-token", "--steps", "10")
	if code != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--admin-token") {
		t.Errorf("refused admin token: exit %d, %v", code, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	ios, _, _, _ = iostreams.Test()
	code, err = execute(t, ios, group, "scenario", "explore", "--server", dead, "--admin-url", dead, "--admin-token", "t", "--steps", "10")
	if code != cmdutil.ExitUnreachable || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("unreachable: exit %d, %v", code, err)
	}
}

// TestExploreInterrupted: Ctrl-C (a cancelled context) ends the exploration
// with the summary printed and the context's error (cmd/root makes it exit
// 130).
func TestExploreInterrupted(t *testing.T) {
	ios, _, stdout, _ := iostreams.Test()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	err := runExplore(ctx, &ExploreOptions{IO: ios, Seed: 1, SeedGiven: true, Duration: time.Minute, Concurrency: 1, Out: filepath.Join(t.TempDir(), "f.yaml")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(stdout.String(), "seed 1: ") {
		t.Errorf("no summary:\n%s", stdout)
	}
}
