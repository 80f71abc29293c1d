package keystore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// childEnv selects a child mode when the test binary is re-executed by
// runChildren; TestChildProcess does nothing without it.
const childEnv = "KEYSTORE_TEST_CHILD"

// children maps a child mode to what the re-executed process does.
var children = map[string]func(t *testing.T){}

// TestChildProcess is the entry point of re-executed test binaries.
func TestChildProcess(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("only runs as a child process of another test")
	}
	f, ok := children[mode]
	if !ok {
		t.Fatalf("unknown child mode %q", mode)
	}
	f(t)
}

// childResult is one child's outcome.
type childResult struct {
	err    error
	output string
}

// runChildren starts n copies of the test binary in mode, at once, each
// with env plus CHILD_INDEX=<i>, and waits for all (bounded by ctx).
func runChildren(ctx context.Context, t *testing.T, mode string, n int, env ...string) []childResult {
	t.Helper()
	res := make([]childResult, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode, fmt.Sprintf("CHILD_INDEX=%d", i)}, env...)...)
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			res[i] = childResult{err, string(out)}
		})
	}
	wg.Wait()
	return res
}

// requireChildrenOK fails the test with each failing child's output.
func requireChildrenOK(t *testing.T, res []childResult) {
	t.Helper()
	for i, r := range res {
		if r.err != nil || !strings.Contains(r.output, "--- PASS: TestChildProcess") {
			t.Errorf("child %d: %v\n%s", i, r.err, r.output)
		}
	}
}

// childContext bounds a whole multi-process test.
func childContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
