package scenario

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

const listSuite = `name: login-with-password
rule: "§4 authtype=0 is user name and password [client]"
tags: [login, smoke]
steps:
  - http: {url: /api/v1/version}
---
name: refresh-rotates
rule: "§3.4 a new refresh token
  each time [doc]"
severity: warning
needs: [admin]
tags: [refresh]
steps:
  - http: {url: /admin/api/settings}
`

func TestListFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *ListOptions
	code, err := execute(t, ios, func(f *cmdutil.Factory) *cobra.Command {
		return NewCmdList(f, func(_ context.Context, o *ListOptions) error { got = o; return nil })
	}, "list", "a", "b", "--tag", "x", "--name", "y", "--json")
	if code != 0 || err != nil || got == nil {
		t.Fatalf("exit %d err %v", code, err)
	}
	if strings.Join(got.Paths, ",") != "a,b" || got.Tags[0] != "x" || got.Names[0] != "y" || !got.JSON {
		t.Errorf("options %+v", got)
	}
}

func TestList(t *testing.T) {
	suite := writeSuite(t, listSuite)
	tests := []struct {
		name string
		tty  bool
		args []string
		want string
	}{
		{"piped: tab-separated", false, []string{suite},
			"login-with-password\tlogin,smoke\t§4 authtype=0 is user name and password [client]\n" +
				"refresh-rotates\trefresh\t§3.4 a new refresh token each time [doc]\n"},
		{"tag filter", false, []string{suite, "--tag", "refresh"}, "refresh-rotates\trefresh\t§3.4 a new refresh token each time [doc]\n"},
		{"name filter", false, []string{suite, "--name", "password"}, "login-with-password\tlogin,smoke\t§4 authtype=0 is user name and password [client]\n"},
		{"terminal: a table", true, []string{suite},
			"NAME                 TAGS         RULE\n" +
				"login-with-password  login,smoke  §4 authtype=0 is user name and password [client]\n" +
				"refresh-rotates      refresh      §3.4 a new refresh token each time [doc]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			ios.SetTTY(tt.tty)
			ios.SetNoColor(true)
			code, err := execute(t, ios, group, append([]string{"scenario", "list"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d err %v stderr %s", code, err, errOut)
			}
			if out.String() != tt.want {
				t.Errorf("stdout:\n%q\nwant:\n%q", out.String(), tt.want)
			}
		})
	}
}

// With colour on, the header is bold through the colour scheme (it wrote
// its own escape sequence around the whole line) and the columns line up as
// without colour.
func TestListColourHeader(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(true)
	if code, err := execute(t, ios, group, "scenario", "list", writeSuite(t, listSuite)); code != 0 {
		t.Fatalf("exit %d err %v stderr %s", code, err, errOut)
	}
	bold := ios.ColorScheme().Bold
	if !strings.HasPrefix(out.String(), bold("NAME")+"                 "+bold("TAGS")) {
		t.Errorf("header %q: want each heading in the colour scheme's bold", strings.SplitN(out.String(), "\n", 2)[0])
	}
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(out.String(), "")
	if !strings.HasPrefix(plain, "NAME                 TAGS         RULE\nlogin-with-password  login,smoke  ") {
		t.Errorf("without escapes:\n%s", plain)
	}
}

func TestListJSON(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	code, err := execute(t, ios, group, "scenario", "list", writeSuite(t, listSuite), "--json")
	if code != 0 {
		t.Fatalf("exit %d err %v", code, err)
	}
	var got []listEntry
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Name != "refresh-rotates" || got[1].Severity != "warning" || got[1].Needs[0] != "admin" ||
		got[0].Severity != "failure" || got[0].Line != 1 || got[1].Line == 0 || !strings.HasSuffix(got[0].File, "suite.yaml") {
		t.Errorf("entries %+v", got)
	}
}

func TestListBuiltin(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	if code, err := execute(t, ios, group, "scenario", "list"); code != 0 {
		t.Fatalf("exit %d err %v", code, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(mustBuiltin(t)) {
		t.Errorf("%d lines for %d built-in scenarios", len(lines), len(mustBuiltin(t)))
	}
	for _, l := range lines {
		if f := strings.Split(l, "\t"); len(f) != 3 || f[0] == "" || f[2] == "" {
			t.Errorf("line %q: want name, tags and rule", l)
		}
	}
}

func TestValidate(t *testing.T) {
	good := writeSuite(t, listSuite)
	bad := writeSuite(t, "name: ok-name\nrule: r\nsteps:\n  - http: {url: /x}\n---\nname: Bad Name\nrule: r\nsteps: []\n")
	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  []string
		errText string
	}{
		{"valid files", []string{good}, 0, []string{"2 scenarios in 1 file: valid"}, ""},
		{"built-in suite", nil, 0, []string{"file", "valid"}, ""},
		{"problems with positions", []string{bad, good}, 2,
			[]string{bad + ":6:7: name: expected lower case letters", bad + ":8:8: scenario \"Bad Name\": expected steps"}, "2 problems in the scenario files"},
		{"missing path", []string{good + ".missing"}, 2, nil, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			code, err := execute(t, ios, group, append([]string{"scenario", "validate"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (err %v)\n%s", code, tt.code, err, out)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if tt.errText != "" && (err == nil || !strings.Contains(err.Error(), tt.errText)) {
				t.Errorf("error %v, want %q", err, tt.errText)
			}
		})
	}
}

func TestHelpHasExamples(t *testing.T) {
	f := &cmdutil.Factory{IOStreams: func() *iostreams.IOStreams { ios, _, _, _ := iostreams.Test(); return ios }()}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if !strings.Contains(c.Example, "$ paragon scenario") {
			t.Errorf("%s: no example", c.CommandPath())
		}
		if c.Short == "" || strings.HasSuffix(c.Short, ".") {
			t.Errorf("%s: Short %q", c.CommandPath(), c.Short)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewCmdScenario(f))
}
