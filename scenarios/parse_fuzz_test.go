package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aliasBomb is a small scenario file whose step headers nest levels of ten
// aliases each: 10^levels nodes once the aliases are followed.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("name: bomb\nx0: &a0 \"${x}\"\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	fmt.Fprintf(&b, "steps:\n  - call: {path: /version, headers: {X: *a%d}}\n", levels)
	return b.String()
}

// TestAliasBombIsRefused: a file whose aliases expand to a billion nodes is
// refused at once, with its file and line, instead of taking minutes.
func TestAliasBombIsRefused(t *testing.T) {
	src := aliasBomb(9)
	if len(src) > 700 {
		t.Fatalf("the bomb is %d bytes", len(src))
	}
	_, err := Parse("bomb.yaml", []byte(src))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a validation error, got %v", err)
	}
	found := false
	for _, p := range ve.Problems {
		if strings.Contains(p.Message, "expands to more than") && p.File == "bomb.yaml" && p.Line > 0 {
			found = true
		}
	}
	if !found || len(ve.Problems) > 13 {
		t.Errorf("problems:\n%v", ve)
	}
}

// A real file far larger than the bomb stays within the budget.
func TestLargeFileWithinBudget(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "---\nname: s%d\nneeds: [admin]\ngiven: {key: {allow_unauthenticated: true}}\nsteps:\n", i)
		for j := 0; j < 5; j++ {
			b.WriteString("  - call: {path: /version, headers: {X-A: a, X-B: b}, query: {q: \"${api_key}\"}}\n    expect:\n      status: 200\n      json:\n        version: {type: string}\n        $.items[*]: {count: 0}\n")
		}
	}
	list, err := Parse("big.yaml", []byte(b.String()))
	if err != nil || len(list) != 400 {
		t.Fatalf("%d scenarios, %v", len(list), err)
	}
}

func TestLoadStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(p, []byte("name: a\nsteps:\n  - call: GET /version\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadPathsContext(ctx, []string{p}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadPaths([]string{p, big})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].File != big || !strings.Contains(ve.Problems[0].Message, "larger than") {
		t.Errorf("a too large file: %v", err)
	}
}

// FuzzParse: whatever the text, Parse returns scenarios or a
// *ValidationError whose problems have positions, never panics, and stays
// within its node budget.
func FuzzParse(f *testing.F) {
	// The first scenario of each built-in file: whole files are so large
	// that the fuzzer runs a handful of inputs a second.
	entries, _ := builtinFS.ReadDir("builtin")
	for _, e := range entries {
		data, _ := builtinFS.ReadFile("builtin/" + e.Name())
		first, _, _ := strings.Cut(string(data), "\n---\n")
		f.Add([]byte(first))
	}
	f.Add([]byte(aliasBomb(4)))
	f.Add([]byte("name: a\nsteps:\n  - include: {file: testdata/none.steps.yaml, steps: x, with: {a: b}}\n  - call: GET /v\n    repeat: 3\n    expect_last: {json: {x: {greater_than: 1s, contains: a, schema: {type: object}}}}\n"))
	f.Add([]byte("name: a\nsteps:\n  - call: {path: /v, form: {a: [1, 2]}, body: x}\n    retry: {until: {status: 200}, times: 2, every: 1ms}\n    capture: {t: token.x}\n"))
	f.Add([]byte("name: a\nsteps:\n  - include: /dev/stdin#x\n  - call: GET /v\n    expect: {json: {x: {schema: /dev/zero}}}\n"))
	f.Add([]byte("name: a\nsteps:\n  - call: GET /version\n    expect: {json: {$.a[?@.b == 1]: {count: 1}}}\n    capture: {x: $.a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := Parse("f.yaml", data)
		if err == nil {
			for _, s := range list {
				if s.Name == "" || len(s.Steps) == 0 {
					t.Fatalf("a scenario without name or steps: %+v", s)
				}
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) == 0 {
			t.Fatalf("not a validation error: %v", err)
		}
		for _, p := range ve.Problems {
			// (a problem may be in a file that f.yaml includes)
			if p.File == "" || p.Message == "" {
				t.Fatalf("problem without position or message: %+v", p)
			}
		}
	})
}
