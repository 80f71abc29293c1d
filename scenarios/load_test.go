package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func problemsOf(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse("t.yaml", []byte(src))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("expected a *ValidationError, got %v", err)
	}
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestValidationErrorsHavePositions(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // each a prefix "t.yaml:L:C: " plus a part of the message
	}{
		{"unknown header field", "name: a\nrul: x\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:2:1: scenario: unknown field "rul"; expected one of: description, given, name`}},
		{"unknown action", "name: a\nsteps:\n  - calll: GET /version\n",
			[]string{`t.yaml:3:5: step 1: unknown field "calll"; expected name, expect, expect_last, capture, repeat, retry, concurrently, include or one action: advance, approve, call,`}},
		{"two actions", "name: a\nsteps:\n  - call: GET /version\n    login: alice\n",
			[]string{`t.yaml:4:5: step 1: has two actions, call and login; expected exactly one`}},
		{"unknown action field", "name: a\nsteps:\n  - login: {user: alice, pasword: x}\n",
			[]string{`t.yaml:3:26: login: unknown field "pasword"; expected one of: api_key, as, authtype, device, device_token, form, method, omit, password, user, userid`}},
		{"bad status", "name: a\nsteps:\n  - call: GET /version\n    expect:\n      status: [200, 700]\n",
			[]string{`t.yaml:5:21: expect.status: expected an HTTP status between 100 and 599, found 700`}},
		{"status not a number", "name: a\nsteps:\n  - call: GET /version\n    expect: {status: ok}\n",
			[]string{`t.yaml:4:22: expect.status: expected a whole number, found "ok"`}},
		{"bad duration", "name: a\nneeds: [admin, clock]\nsteps:\n  - advance: soon\n",
			[]string{`t.yaml:4:14: advance: expected a duration such as 5s, 61m or 2160h, or a lifetime (access_token_ttl, refresh_token_ttl, device_code_ttl, refresh_grace) with an optional / N and + or - a duration, such as access_token_ttl + 1s; found "soon"`}},
		{"bad lifetime expression", "name: a\nneeds: [admin, clock]\nsteps:\n  - advance: access_token_ttl * 2\n",
			[]string{`t.yaml:4:14: advance: expected a duration such as 5s, 61m or 2160h, or a lifetime (access_token_ttl, refresh_token_ttl, device_code_ttl, refresh_grace) with an optional / N and + or - a duration, such as access_token_ttl + 1s; found "access_token_ttl * 2"`}},
		{"bool expected", "name: a\nneeds: [admin]\ngiven:\n  key: {auto_trust: maybe}\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:4:21: given.key.auto_trust: expected true or false, found "maybe"`}},
		{"missing name and steps", "description: x\n",
			[]string{`t.yaml:1:1: scenario: expected a name`, `t.yaml:1:1: scenario "": expected steps`}},
		{"need not declared", "name: a\nsteps:\n  - approve: printer\n",
			[]string{`t.yaml:3:5: step approve printer: needs admin: add admin to the scenario's needs`}},
		{"given without admin", "name: a\ngiven:\n  key: {auto_trust: true}\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:1:1: scenario "a": given changes the server through its admin API: add admin to needs`}},
		{"unknown variable", "name: a\nsteps:\n  - call: {path: /version, token: \"${tok}\"}\n",
			[]string{`t.yaml:3:35: ${tok}: not captured by an earlier step`}},
		{"variable captured later", "name: a\nsteps:\n  - call: {path: /version, token: \"${tok}\"}\n  - call: GET /version\n    capture: {tok: $.x}\n",
			[]string{`t.yaml:3:35: ${tok}: not captured by an earlier step`}},
		{"bad capture", "name: a\nsteps:\n  - call: GET /version\n    capture: {x: cookie y}\n",
			[]string{`t.yaml:4:18: capture.x: expected a JSON path ($.token.access_token or token.access_token), header <Name>, status or body, found "cookie y"`}},
		{"needs as one word", "name: a\nneeds: root\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:2:8: needs: expected admin, clock, device-key or second-key, found "root"`}},
		{"bad severity and needs", "name: a\nseverity: fatal\nneeds: [root]\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:2:11: severity: expected failure or warning, found "fatal"`, `t.yaml:3:9: needs: expected admin, clock, device-key or second-key, found "root"`}},
		{"bad check", "name: a\nsteps:\n  - call: GET /version\n    expect:\n      json:\n        x: {type: text, lenght: 2}\n",
			[]string{`t.yaml:6:19: expect.json.x.type: expected one of string, number, boolean, object, array, null, found "text"`, `t.yaml:6:25: expect.json.x: unknown check "lenght"`}},
		{"bad regexp", "name: a\nsteps:\n  - call: GET /version\n    expect:\n      body: {matches: \"(\"}\n",
			[]string{`t.yaml:5:23: expect.body.matches: expected a regular expression (RE2)`}},
		{"bad json path", "name: a\nsteps:\n  - call: GET /version\n    expect:\n      json:\n        \"a...b\": 1\n",
			[]string{`t.yaml:6:9: expect.json: bad JSON path "a...b": `}},
		{"bad name", "name: Has Spaces\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:1:7: name: expected lower case letters, digits, '.', '_' or '-', found "Has Spaces"`}},
		{"duplicate key", "name: a\nname: b\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:2:1: scenario: "name" given twice`}},
		{"refresh needs one of", "name: a\nsteps:\n  - refresh: {sign: no}\n",
			[]string{`t.yaml:3:14: refresh: expected exactly one of device or user`}},
		{"yaml syntax", "name: a\nsteps:\n  - call: [GET\n",
			[]string{`t.yaml:3: did not find expected ',' or ']'`}},
		{"yaml syntax, missing key", "name: a\n  steps: x\nfoo\n",
			[]string{`t.yaml:2: mapping values are not allowed in this context`}},
		{"built-in variable without its need", "name: a\nsteps:\n  - login: {user: bob, api_key: \"${second_api_key}\"}\n",
			[]string{`t.yaml:3:33: ${second_api_key}: needs second-key: add second-key to the scenario's needs`}},
		{"typos get a suggestion", "name: a\nrul: x\nneeds: [admni]\nsteps:\n  - logn: alice\n  - call: GET /version\n    expect: {stauts: 200, json: {x: {tpye: string}}}\n",
			[]string{`t.yaml:2:1: scenario: unknown field "rul"; expected one of: description, given, name, needs, rule, severity, steps, tags; did you mean "rule"?`,
				`t.yaml:3:9: needs: expected admin, clock, device-key or second-key, found "admni"; did you mean "admin"?`,
				`t.yaml:5:5: step 1: unknown field "logn"; expected name, expect, expect_last, capture, repeat, retry, concurrently, include or one action: advance, approve, call, device_token, fault, http, key, login, refresh, refuse, register, revoke, settings, untrust; did you mean "login"?`,
				`t.yaml:7:14: expect: unknown field "stauts"; expected one of: body, headers, json, max_duration, status, successes; did you mean "status"?`,
				`t.yaml:7:38: expect.json.x: unknown check "tpye"; expected one of: absent, contains, count, equals, greater_than, length, less_than, matches, not_equals, one_of, present, schema, starts_with, type; did you mean "type"?`}},
		{"other tools' check names", "name: a\nsteps:\n  - call: GET /version\n    expect:\n      json:\n        x: {exists: true, gt: 1, includes: a}\n",
			[]string{`t.yaml:6:13: expect.json.x: unknown check "exists"; expected one of: absent, contains, `, `t.yaml:6:27: expect.json.x: unknown check "gt"`, `t.yaml:6:34: expect.json.x: unknown check "includes"`}},
		{"bad bounds", "name: a\nsteps:\n  - call: GET /version\n    expect:\n      json:\n        x: {greater_than: soon, less_than: [1]}\n",
			[]string{`t.yaml:6:27: expect.json.x.greater_than: expected a number or a duration such as 30s or 1h30m, found "soon"`, `t.yaml:6:44: expect.json.x.less_than: expected a number or a duration such as 30s`}},
		{"bad schemas", "name: a\nsteps:\n  - call: GET /version\n    expect:\n      json:\n        x: {schema: {type: 12}}\n        y: {schema: nowhere.json}\n        z: {schema: [1]}\n",
			[]string{`t.yaml:6:21: expect.json.x.schema: not a valid JSON Schema: `, `t.yaml:7:21: expect.json.y.schema: cannot read the schema: stat nowhere.json: no such file`,
				`t.yaml:8:21: expect.json.z.schema: expected a JSON Schema file name or an inline schema (a mapping), found a list`}},
		{"yaml syntax in a block", "name: a\nsteps:\n  - call:\n      path: /a\n     method: GET\n",
			[]string{`t.yaml:3: did not find expected key in the block that starts on this line; check the indentation`}},
		{"session or device before the step that names it", "name: a\nsteps:\n  - call: {path: /version, token: \"${alice.access_token}\"}\n  - login: alice\n    expect: {json: {token.access_token: \"${alice.access_token}\"}}\n  - login: {user: bob, as: b2}\n  - call: {path: /version, token: \"${alice.access_token}${b2.refresh_token}${printer.client_id}\"}\n",
			[]string{`t.yaml:3:35: ${alice.access_token}: no earlier step logs alice in or registers a device alice; add one before (login: {user: ..., as: alice} or register: alice)`,
				`t.yaml:7:35: ${printer.client_id}: no earlier step logs printer in or registers a device printer`}},
		{"duplicate names in a file with other problems", "name: a\nsteps:\n  - call: GET /version\n---\nname: a\nrul: x\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:6:1: scenario: unknown field "rul"`, `t.yaml:5:1: scenario name "a" is already used at t.yaml:1; names must be unique`}},
		{"duplicate names", "name: a\nsteps:\n  - call: GET /version\n---\nname: a\nsteps:\n  - call: GET /version\n",
			[]string{`t.yaml:5:1: scenario name "a" is already used at t.yaml:1; names must be unique`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := problemsOf(t, c.src)
			if len(got) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(c.want), strings.Join(got, "\n"))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d:\n got  %s\n want %s…", i, got[i], w)
				}
			}
		})
	}
}

func TestParseSeveralDocuments(t *testing.T) {
	src := `name: one
rule: "§2"
tags: [keys]
steps:
  - call: GET /version
    expect: {status: 403}
---
name: two
severity: warning
needs: [admin, clock]
given:
  key: {allow_untrusted: true}
  settings: {refresh_grace: 30s}
steps:
  - login: alice
    capture: {rt: $.token.refresh_token}
  - advance: 5s
  - refresh: {user: alice, token: "${rt}"}
---
`
	list, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "one" || list[1].Name != "two" {
		t.Fatalf("%+v", list)
	}
	two := list[1]
	if two.Line != 8 || two.File != "f.yaml" || two.Severity != SeverityWarning || len(two.Steps) != 3 {
		t.Errorf("%+v", two)
	}
	if g := two.Given; g == nil || g.Keys["default"] == nil || *g.Keys["default"].AllowUntrusted != true || g.Settings == nil || durationOf(*g.Settings.RefreshGrace).String() != "30s" {
		t.Errorf("given %+v", two.Given)
	}
	if list[0].Severity != SeverityFailure || list[0].Steps[0].Expect.Status[0] != 403 {
		t.Errorf("%+v", list[0])
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scen := func(name string) string { return "name: " + name + "\nsteps:\n  - call: GET /version\n" }
	write("a.yaml", scen("a"))
	write("sub/b.yml", scen("b"))
	write("sub/deeper/c.yaml", scen("c"))
	write("sub/notes.txt", "not a scenario")
	names := func(list []*Scenario) string {
		var n []string
		for _, s := range list {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	list, err := LoadPaths([]string{dir})
	if err != nil || names(list) != "a,b,c" {
		t.Fatalf("dir: %q %v", names(list), err)
	}
	list, err = LoadPaths([]string{filepath.Join(dir, "sub", "b.yml"), filepath.Join(dir, "*.yaml")})
	if err != nil || names(list) != "b,a" {
		t.Fatalf("file and glob: %q %v", names(list), err)
	}
	if _, err := LoadPaths([]string{filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Error("a missing file is not an error")
	}
	if _, err := LoadPaths([]string{filepath.Join(dir, "*.json")}); err == nil || !strings.Contains(err.Error(), "no scenario file matches") {
		t.Errorf("empty glob: %v", err)
	}
	write("bad/x.yaml", "name: x\nsteps: []\n")
	_, err = LoadPaths([]string{filepath.Join(dir, "bad")})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Problems[0].File != filepath.Join(dir, "bad", "x.yaml") || ve.Problems[0].Line != 2 {
		t.Errorf("bad file: %v", err)
	}
}

func TestBuiltinSuiteIsWellFormed(t *testing.T) {
	list, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < 60 {
		t.Errorf("only %d built-in scenarios", len(list))
	}
	for _, s := range list {
		if s.Rule == "" || s.Description == "" || len(s.Tags) == 0 {
			t.Errorf("%s (%s:%d): every built-in scenario names its rule, describes itself and has tags", s.Name, s.File, s.Line)
		}
		if !strings.HasPrefix(s.File, "builtin:") {
			t.Errorf("%s: file %q", s.Name, s.File)
		}
		ours := strings.Contains(s.Rule, "[ours]")
		doc := strings.Contains(s.Rule, "[doc]") || strings.Contains(s.Rule, "[client]")
		if ours && !doc && s.Severity != SeverityWarning {
			t.Errorf("%s checks only an [ours] rule and must be a warning", s.Name)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	opts := []string{"description", "rule", "name", "needs", "steps", "tags"}
	cases := map[string]string{
		"descripton": `; did you mean "description"?`, // a letter left out
		"rlue":       `; did you mean "rule"?`,        // two letters swapped
		"Steps":      `; did you mean "steps"?`,       // case
		"nmae":       `; did you mean "name"?`,
		"bogus":      "", // nothing close
		"ru":         "", // too short to guess from
		"tag":        `; did you mean "tags"?`,
	}
	for word, want := range cases {
		if got := didYouMean(word, opts); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", word, got, want)
		}
	}
}

// TestBuiltinRulesCiteProtocol keeps the built-in suite tied to the
// contract: every rule starts with a section of docs/protocol.md, every
// section it cites exists there, and it names where the rule comes from
// ([doc], [client] or [ours]).
func TestBuiltinRulesCiteProtocol(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,4} (\d+(?:\.\d+)*)\.? `).FindAllStringSubmatch(string(data), -1) {
		sections[m[1]] = true
	}
	if len(sections) < 20 {
		t.Fatalf("only %d numbered sections in docs/protocol.md", len(sections))
	}
	list, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cite := regexp.MustCompile(`§(\d+(?:\.\d+)*)`)
	for _, s := range list {
		if !strings.HasPrefix(s.Rule, "§") {
			t.Errorf("%s: rule %q does not start with a section of docs/protocol.md", s.Name, s.Rule)
		}
		for _, m := range cite.FindAllStringSubmatch(s.Rule, -1) {
			if !sections[m[1]] {
				t.Errorf("%s: rule cites §%s, which docs/protocol.md does not have", s.Name, m[1])
			}
		}
		if !strings.Contains(s.Rule, "[doc]") && !strings.Contains(s.Rule, "[client]") && !strings.Contains(s.Rule, "[ours") {
			t.Errorf("%s: rule %q names no source ([doc], [client] or [ours])", s.Name, s.Rule)
		}
	}
}
