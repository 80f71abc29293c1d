package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestInclude: a scenario includes named step lists from a steps file,
// with parameters; the steps run as if written out, are reported at the
// include's line, and a directory's steps files are not loaded as
// scenarios.
func TestInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"common/users.steps.yaml": `login-and-look:
  description: log a user in and find them in the list
  params: [who]
  steps:
    - login: ${who}
    - include: more.steps.yaml#list-users
    - call: {path: /users, query: {username: "${who}"}, as: "${who}"}
      expect:
        json:
          $.items[0].username: "${who}"
      capture:
        email: $.items[0].email
`,
		"common/more.steps.yaml": `list-users:
  steps:
    - call: {path: /users/all, as: alice}
`,
		"suite/users.yaml": `name: include-example
needs: [admin]
given:
  key: {allow_untrusted: true}
steps:
  - login: alice
  - include: {file: ../common/users.steps.yaml, steps: login-and-look, with: {who: bob}}
  - call: {path: /version, as: bob}
    expect:
      json: {version: {present: true}}
  - name: the email captured in the included steps
    call: {path: /users, query: {username: bob}, as: bob}
    expect:
      json:
        $.items[0].email: "${email}"
  - include: {file: ../common/users.steps.yaml, steps: login-and-look, with: {who: carol}}
`,
	})
	_, err := LoadPaths([]string{filepath.Join(dir, "suite"), filepath.Join(dir, "common", "more.steps.yaml")})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.Contains(ve.Problems[0].Message, "is a steps file") {
		t.Fatalf("a steps file named as a scenario file: %v", err)
	}
	_, err = LoadPaths([]string{filepath.Join(dir, "suite"), filepath.Join(dir, "common")})
	if err == nil || !strings.Contains(err.Error(), "no *.yaml or *.yml files") {
		t.Fatalf("a directory of steps files only: %v", err)
	}
	list, err := LoadPaths([]string{filepath.Join(dir, "suite")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list[0].Steps); n != 9 {
		t.Fatalf("%d steps, want 9", n)
	}
	if st := list[0].Steps[2]; st.Kind != "call" || st.Line != 7 {
		t.Errorf("an included step is reported at the include's line: %s at %d", st.Kind, st.Line)
	}
	rep, err := Run(context.Background(), list, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scenarios[0].Status != Passed {
		t.Fatalf("%s", describe(rep.Scenarios[0]))
	}
}

func TestIncludeProblems(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"lib.steps.yaml": `a:
  steps:
    - include: lib.steps.yaml#b
b:
  steps:
    - include: lib.steps.yaml#a
p:
  params: [who]
  stepz: []
q:
  params: [who]
  steps:
    - login: ${who}
    - call: {path: "${nobody}"}
`,
		"bomb.steps.yaml": stepsBomb(9),
		"s.yaml": `name: s
steps:
  - include: {file: lib.steps.yaml, steps: q, with: {who: alice}}
  - include: lib.steps.yaml#a
  - include: {file: lib.steps.yaml, steps: q, with: {whom: x}}
  - include: lib.steps.yaml#nope
  - include: missing.steps.yaml#a
  - include: no-hash
    name: x
  - include: bomb.steps.yaml#list
`,
	})
	_, err := LoadPaths([]string{filepath.Join(dir, "s.yaml")})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%v", err)
	}
	all := err.Error()
	for _, want := range []string{
		`lib.steps.yaml:6:16: include lib.steps.yaml#a: includes itself (lib.steps.yaml#a → lib.steps.yaml#b → lib.steps.yaml#a); break the cycle`,
		`lib.steps.yaml:9:3: p: unknown field "stepz"; expected one of: description, params, steps; did you mean "steps"?`,
		`s.yaml:5:14: include lib.steps.yaml#q: expected with: {who: ...}; the list's params are: who`,
		`s.yaml:5:14: include lib.steps.yaml#q: with.whom is not one of the list's params (who)`,
		`s.yaml:6:14: include: lib.steps.yaml has no step list "nope"; it has: a, b, p, q`,
		`s.yaml:7:14: include: cannot read missing.steps.yaml: stat `,
		`s.yaml:8:14: include: expected FILE#LIST`,
		`lib.steps.yaml:14:20: ${nobody}: not captured by an earlier step`,
		`s.yaml:9:5: include: a step that includes steps has nothing else (found "name")`,
		`bomb.steps.yaml:`,
		`expands to more than`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem %q in:\n%s", want, all)
		}
	}
}

// stepsBomb is a steps file whose one list is aliasBomb's steps, with its
// nested aliases.
func stepsBomb(levels int) string {
	return strings.Replace(aliasBomb(levels), "name: bomb\n", "", 1) + "list:\n  steps:\n    - call: {path: /version, headers: {X: *a" + strconv.Itoa(levels) + "}}\n"
}
