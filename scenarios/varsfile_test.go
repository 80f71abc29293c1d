package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVars(t *testing.T) {
	vars, err := ParseVars("v.yaml", []byte("# comment\nuser: alice\nretries: 3\nempty: \"\"\npassword: {value: wonderland, secret: true}\nnote: {value: x, secret: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Variable{
		{Name: "user", Value: "alice", Source: "v.yaml:2"},
		{Name: "retries", Value: "3", Source: "v.yaml:3"},
		{Name: "empty", Value: "", Source: "v.yaml:4"},
		{Name: "password", Value: "wonderland", Secret: true, Source: "v.yaml:5"},
		{Name: "note", Value: "x", Source: "v.yaml:6"},
	}
	if len(vars) != len(want) {
		t.Fatalf("got %+v", vars)
	}
	for i := range want {
		if vars[i] != want[i] {
			t.Errorf("variable %d: got %+v, want %+v", i, vars[i], want[i])
		}
	}
	for _, src := range []string{"", "# nothing\n", "---\n"} {
		if vars, err := ParseVars("e.yaml", []byte(src)); err != nil || len(vars) != 0 {
			t.Errorf("%q: %v %v", src, vars, err)
		}
	}
}

func TestParseVarsProblems(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"[a, b]\n", "e.yaml:1:1: expected a mapping of variable names to values (NAME: VALUE), found a list"},
		{"a: [1]\n", "e.yaml:1:4: a: expected a value (a string or number) or {value: VALUE, secret: true}, found a list"},
		{"a:\n", "e.yaml:1:3: a: no value; write \"\" for an empty string"},
		{"a: {value: [1]}\n", "e.yaml:1:12: a: expected a value (a string or number), found a list"},
		{"a: {secret: true}\n", "e.yaml:1:4: a: expected a value (a: {value: VALUE, secret: true})"},
		{"a: {value: x, secret: yes please}\n", "e.yaml:1:23: a.secret: expected true or false, found \"yes please\""},
		{"a: {value: x, sekret: true}\n", "e.yaml:1:15: a: unknown field \"sekret\"; expected value and secret; did you mean \"secret\"?"},
		{"a: 1\na: 2\n", "e.yaml:2:1: variable \"a\" is already set on line 1"},
		{"9a: 1\n", "e.yaml:1:1: variable name \"9a\": expected letters, digits and '_', not starting with a digit"},
		{"api_key: 1\n", "e.yaml:1:1: variable name \"api_key\": a built-in variable"},
		{"a: &x 1\nb: *x\n", "e.yaml:2:4: aliases (*x) are not allowed in a vars file; write the value out"},
		{"a: 1\n---\nb: 2\n", "e.yaml:2: a vars file is one YAML document"},
		{"a: [\n", "e.yaml:2: did not find expected node content"},
	} {
		_, err := ParseVars("e.yaml", []byte(tc.src))
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%q: want a validation error, got %v", tc.src, err)
			continue
		}
		if got := ve.Problems[0].String(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q:\n got %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

func TestReadVarsFileTooBig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(p, []byte("a: "+strings.Repeat("x", MaxVarsFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadVarsFile(p)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Problems[0].Message, "larger than 1 MiB") {
		t.Errorf("got %v", err)
	}
}

// TestRunVars: a variable given to the run resolves ${NAME}, wins over the
// environment, and the values of secret ones never reach the report.
func TestRunVars(t *testing.T) {
	t.Setenv("WHO", "from-environment")
	src := `name: vars
steps:
  - call: {path: /version, headers: {X-Who: "${WHO}", X-User: "${user}", X-Note: "${note}", X-Pw: "${db_password}"}}
    expect: {status: 200}
`
	if _, err := Parse("v.yaml", []byte(src)); err == nil {
		t.Fatal("${user} is valid without the variable")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "v.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := []Variable{
		{Name: "WHO", Value: "from-file"},
		{Name: "user", Value: "alice-the-user"},
		{Name: "note", Value: "marked-secret", Secret: true},
		{Name: "db_password", Value: "secret-by-name"},
		{Name: "WHO", Value: "from-flag"}, // the last one counts
	}
	list, err := LoadPathsWith(context.Background(), []string{file}, LoadOptions{Vars: []string{"WHO", "user", "note", "db_password"}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Scenarios[0].Steps[0]
	if st.Exchange == nil {
		t.Fatalf("no exchange: %+v", st)
	}
	req := st.Exchange.Request
	for _, want := range []string{"X-Who: from-flag", "X-User: alice-the-user", "X-Note: [redacted]", "X-Pw: [redacted]"} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
	if strings.Contains(req, "marked-secret") || strings.Contains(req, "secret-by-name") {
		t.Errorf("a secret variable is shown:\n%s", req)
	}
}

// FuzzParseVars: whatever the text, ParseVars returns variables with valid
// names or a *ValidationError whose problems have positions; never panics.
func FuzzParseVars(f *testing.F) {
	f.Add([]byte("user: alice\npassword: {value: wonderland, secret: true}\n"))
	f.Add([]byte("a: &x [1, *x]\n"))
	f.Add([]byte("a: {value: x, secret: yes}\nb:\n---\nc: 1\n"))
	f.Add([]byte("? [a]\n: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := ParseVars("f.yaml", data)
		if err == nil {
			for _, v := range vars {
				if CheckVarName(v.Name) != nil {
					t.Fatalf("invalid name accepted: %+v", v)
				}
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) == 0 {
			t.Fatalf("not a validation error: %v", err)
		}
		for _, p := range ve.Problems {
			if p.File != "f.yaml" || p.Line < 1 || p.Message == "" {
				t.Fatalf("problem without position or message: %+v", p)
			}
		}
	})
}
