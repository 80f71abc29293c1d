package e2e

import (
	"bufio"
	"context"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLibraryOutsideTheModule builds testdata/service/main.go.txt, a
// program of at most 60 lines that imports only the public client API, as
// its own module (a replace directive points at this repository; go.sum is
// the repository's, so nothing is downloaded), and runs it three times
// against `paragon server`: a first run registers a device (the test
// approves it), fails one login with a wrong password and logs alice in; a
// second run, hours later, resumes from its files and refreshes the expired
// token; a third run, after the device was deleted and alice's tokens
// revoked, logs in again, finds the device untrusted and registers anew.
func TestLibraryOutsideTheModule(t *testing.T) {
	src, err := os.ReadFile("testdata/service/main.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), "\n"); n > 60 {
		t.Errorf("the service program has %d lines, more than 60", n)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", src, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if strings.Contains(p, ".") && p != "github.com/paragon-cli/paragon/client" {
			t.Errorf("the service imports %s, not only the public client API", p)
		}
	}

	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module example.com/service\n\ngo 1.26\n\nrequire github.com/paragon-cli/paragon v0.0.0\n\nreplace github.com/paragon-cli/paragon => " + strconv.Quote(repo) + "\n"
	for name, body := range map[string][]byte{"main.go": src, "go.mod": []byte(gomod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goEnv := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	goCmd := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = dir, goEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	bin := filepath.Join(dir, "service")
	goCmd("build", "-o", bin, ".")
	// The library brings no third-party module along.
	for _, p := range strings.Fields(goCmd("list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")) {
		if p != "example.com/service" && !strings.HasPrefix(p, "github.com/paragon-cli/paragon/") {
			t.Errorf("the service depends on %s", p)
		}
	}

	const admin = "library-admin-token"
	srv := startServer(t, "--addr", "127.0.0.1:0", "--fake-clock", "--admin-token", admin, "--password-cost", "4")
	h := newHTTPClient(srv.URL, admin)
	adminCall := func(method, path, body string) {
		t.Helper()
		if a, err := h.adminJSON(method, path, body); err != nil || a.Status/100 != 2 {
			t.Fatalf("admin %s %s: %v %v", method, path, a.Status, err)
		}
	}
	state := filepath.Join(dir, "state")
	var device string
	run := func() string {
		t.Helper()
		cmd := exec.Command(bin, srv.URL, state)
		cmd.Env = testEnv(t)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var lines []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if id, ok := strings.CutPrefix(sc.Text(), "waiting for approval of "); ok {
				device = id
				adminCall("POST", "/admin/api/devices/"+id+"/approve", "")
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("service: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(lines, "\n"), stderr.String())
		}
		return strings.Join(lines, "\n")
	}

	first := run()
	if !strings.Contains(first, "waiting for approval of ") || !strings.Contains(first, "invalid_credentials") ||
		!strings.HasSuffix(first, "users: 3 first: alice") {
		t.Fatalf("first run:\n%s", first)
	}
	firstDevice := device

	adminCall("POST", "/admin/api/clock", `{"advance":"3h"}`) // every access token expired
	if second := run(); second != "users: 3 first: alice" {
		t.Fatalf("second run (resumed from the files) said:\n%s", second)
	}

	adminCall("DELETE", "/admin/api/devices/"+firstDevice, "")
	adminCall("POST", "/admin/api/revoke", `{"username":"alice"}`)
	third := run()
	if !strings.Contains(third, "device not trusted") || device == firstDevice || !strings.HasSuffix(third, "users: 3 first: alice") {
		t.Fatalf("third run (device deleted, alice revoked) said:\n%s", third)
	}
}
