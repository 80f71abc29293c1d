package scenarios

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Builtin returns the built-in compliance suite embedded in the binary, in
// file and document order. An error means the embedded files are broken (a
// test guards against that).
func Builtin() ([]*Scenario, error) {
	entries, err := fs.Glob(builtinFS, "builtin/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(entries)
	var files []sourceFile
	for _, e := range entries {
		data, err := builtinFS.ReadFile(e)
		if err != nil {
			return nil, err
		}
		files = append(files, sourceFile{name: "builtin:" + path.Base(e), data: data})
	}
	return parseFiles(context.Background(), files, nil)
}

// LoadPaths reads the scenarios in the given files, directories (every
// *.yaml and *.yml below them, recursively, in name order) and glob
// patterns. A path that does not exist or a glob that matches nothing is an
// error; problems inside the files are reported together as a
// *ValidationError. A file larger than MaxFileSize, or one whose aliases
// expand beyond what any real scenario file needs, is such a problem.
func LoadPaths(paths []string) ([]*Scenario, error) {
	return LoadPathsContext(context.Background(), paths)
}

// MaxFileSize is the largest scenario file LoadPaths reads.
const MaxFileSize = 4 << 20

// LoadPathsContext is LoadPaths stopping early, with ctx's error, when ctx
// is cancelled.
func LoadPathsContext(ctx context.Context, paths []string) ([]*Scenario, error) {
	return LoadPathsWith(ctx, paths, LoadOptions{})
}

// LoadOptions configures LoadPathsWith.
type LoadOptions struct {
	// Vars names the variables the run is given from outside the files
	// (RunOptions.Vars: --var, --vars-file); ${NAME} of one of them is valid
	// whatever its case.
	Vars []string
}

// LoadPathsWith is LoadPathsContext with options.
func LoadPathsWith(ctx context.Context, paths []string, opts LoadOptions) ([]*Scenario, error) {
	var names []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			names = append(names, p)
		}
	}
	for _, p := range paths {
		if strings.ContainsAny(p, "*?[") {
			matches, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("bad pattern %q: %w", p, err)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("%s: no scenario file matches", p)
			}
			for _, m := range matches {
				if err := collect(m, add); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := collect(p, add); err != nil {
			return nil, err
		}
	}
	var files []sourceFile
	var tooBig []Problem
	for _, n := range names {
		if strings.HasSuffix(n, stepsFileSuffix) {
			tooBig = append(tooBig, Problem{File: n, Line: 1, Message: stepsFileProblem(n)})
			continue
		}
		data, err := readLimited(n, MaxFileSize)
		if err != nil {
			return nil, err
		}
		if len(data) > MaxFileSize {
			tooBig = append(tooBig, Problem{File: n, Line: 1, Message: fmt.Sprintf("larger than %d MiB: not a scenario file (split it)", MaxFileSize>>20)})
			continue
		}
		files = append(files, sourceFile{name: n, data: data})
	}
	ext := map[string]bool{}
	for _, v := range opts.Vars {
		ext[v] = true
	}
	list, err := parseFiles(ctx, files, ext)
	if len(tooBig) > 0 {
		var ve *ValidationError
		if err == nil || errors.As(err, &ve) {
			if ve != nil {
				tooBig = append(tooBig, ve.Problems...)
			}
			return nil, &ValidationError{Problems: tooBig}
		}
	}
	return list, err
}

// readLimited reads at most limit+1 bytes of a file.
func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

func isScenarioFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func collect(p string, add func(string)) error {
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("scenario path: %w", err)
	}
	if !info.IsDir() {
		add(p)
		return nil
	}
	var found []string
	err = filepath.WalkDir(p, func(q string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && isScenarioFile(q) && !strings.HasSuffix(q, stepsFileSuffix) {
			found = append(found, q)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return fmt.Errorf("%s: no *.yaml or *.yml files in this directory", p)
	}
	sort.Strings(found)
	for _, f := range found {
		add(f)
	}
	return nil
}

type sourceFile struct {
	name string
	data []byte
}

// Parse reads the scenarios of one YAML text (several documents allowed);
// file names it in positions and messages.
func Parse(file string, data []byte) ([]*Scenario, error) {
	return parseFiles(context.Background(), []sourceFile{{name: file, data: data}}, nil)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem is a YAML syntax error of file as a Problem (yaml.v3 gives
// no column for them).
func syntaxProblem(file string, err error) Problem {
	p := Problem{File: file, Line: 1, Message: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscan(m[1], &p.Line)
		p.Message = m[2]
		if strings.HasPrefix(p.Message, "did not find expected") {
			// yaml.v3 names the line where the enclosing block starts,
			// numbered from 0 for parser errors
			p.Line++
			p.Message += " in the block that starts on this line; check the indentation and brackets of the lines below it"
		}
	}
	return p
}

// parseFiles reads files; ext names the variables given from outside them.
func parseFiles(ctx context.Context, files []sourceFile, ext map[string]bool) ([]*Scenario, error) {
	d := &decoder{ctx: ctx, ext: ext}
	var list []*Scenario
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d.file = f.name
		d.visited, d.budget, d.stopped = 0, nodeBudget(len(f.data)), false
		d.hooks = nil
		first := true
		dec := yaml.NewDecoder(bytes.NewReader(f.data))
		for !d.stopped {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				d.problems = append(d.problems, syntaxProblem(f.name, err))
				break
			}
			if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
				continue // an empty document, e.g. after a trailing ---
			}
			if root := resolve(doc.Content[0]); isHooksDoc(root) {
				if first {
					d.hooks = d.fileHooks(root)
				} else {
					d.errorf(root, "setup and teardown run once per file: write them in the file's first document, before its scenarios")
				}
				first = false
				continue
			}
			first = false
			if s := d.scenario(doc.Content[0]); s != nil && !d.stopped {
				list = append(list, s)
			}
		}
		if d.stopped {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			d.problems = d.problems[:d.keep]
		} else if h := d.hooks; h != nil && !slices.ContainsFunc(d.named, func(s *Scenario) bool { return s.Hooks == h }) {
			d.problems = append(d.problems, Problem{File: h.File, Line: h.Line, Column: 1,
				Message: "the file has setup or teardown but no scenario: they run around the file's scenarios; add one after a --- line"})
		}
	}
	names := map[string]*Scenario{}
	for _, s := range d.named {
		if prev, ok := names[s.Name]; ok {
			d.problems = append(d.problems, Problem{File: s.File, Line: s.Line, Column: s.Column,
				Message: fmt.Sprintf("scenario name %q is already used at %s:%d; names must be unique", s.Name, prev.File, prev.Line)})
			continue
		}
		names[s.Name] = s
	}
	if len(d.problems) > 0 {
		return nil, &ValidationError{Problems: d.problems}
	}
	return list, nil
}

var (
	validName  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	validNeeds = map[string]bool{NeedAdmin: true, NeedClock: true, NeedDeviceKey: true, NeedSecondKey: true}
)

// scenario reads one document.
func (d *decoder) scenario(n *yaml.Node) *Scenario {
	n = resolve(n)
	before := len(d.problems)
	s := &Scenario{File: d.file, Line: n.Line, Column: n.Column, Severity: SeverityFailure}
	d.used = map[string]*yaml.Node{}
	var stepsNode, nameNode *yaml.Node
	for _, kv := range d.mappingPairs(n, "scenario") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "name":
			nameNode = v
			d.decode(v, reflectOf(&s.Name), "name")
		case "description":
			d.decode(v, reflectOf(&s.Description), "description")
		case "rule":
			d.decode(v, reflectOf(&s.Rule), "rule")
		case "severity":
			d.decode(v, reflectOf(&s.Severity), "severity")
			if s.Severity != SeverityFailure && s.Severity != SeverityWarning {
				d.errorf(v, "severity: expected failure or warning, found %q", s.Severity)
			}
		case "needs":
			d.decode(v, reflectOf(&s.Needs), "needs")
			for i, need := range s.Needs {
				if !validNeeds[need] {
					at := resolve(v) // a single word, or the list's i-th item
					if i < len(at.Content) {
						at = at.Content[i]
					}
					d.errorf(at, "needs: expected admin, clock, device-key or second-key, found %q%s", need, didYouMean(need, slices.Collect(maps.Keys(validNeeds))))
				}
			}
		case "tags":
			d.decode(v, reflectOf(&s.Tags), "tags")
		case "given":
			s.Given = d.given(v)
		case "steps":
			stepsNode = resolve(v)
		case "setup", "teardown":
			d.errorf(k, "scenario: %s runs once per file: write setup: and teardown: in a document of their own, the file's first (see docs/scenarios.md, File setup and teardown)", k.Value)
		default:
			d.errorf(k, "scenario: unknown field %q; expected one of: %s%s", k.Value, strings.Join(headerFields, ", "), hookHint(k.Value, headerFields))
		}
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	switch {
	case nameNode == nil:
		d.errorf(n, "scenario: expected a name (lower case letters, digits, '.', '_' or '-')")
	case s.Name != "" && !validName.MatchString(s.Name):
		d.errorf(nameNode, "name: expected lower case letters, digits, '.', '_' or '-', found %q", s.Name)
	}
	if stepsNode == nil || stepsNode.Kind != yaml.SequenceNode || len(stepsNode.Content) == 0 {
		at := n
		if stepsNode != nil {
			at = stepsNode
		}
		d.errorf(at, "scenario %q: expected steps, a list of at least one step", s.Name)
	} else {
		vars := map[string]bool{}
		if h := d.hooks; h != nil {
			maps.Copy(vars, h.vars) // what setup captured and logged in
			d.protected = h.captured
		}
		s.Steps = d.stepList(stepsNode, vars)
		d.protected = nil
	}
	if h := d.hooks; h != nil {
		s.Hooks = h
		if s.Given != nil {
			d.errorf(n, "scenario %q: given resets the server, which would undo the file's %s; move this scenario to another file", s.Name, h.what())
		}
	}
	d.checkNeeds(s, n, "the scenario's needs")
	if s.Name != "" {
		d.named = append(d.named, s) // duplicate names are reported also among invalid scenarios
	}
	if len(d.problems) > before {
		return nil
	}
	return s
}

func (d *decoder) given(n *yaml.Node) *Given {
	g := &Given{Keys: map[string]*KeyPatch{}}
	for _, kv := range d.mappingPairs(n, "given") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "key":
			if _, dup := g.Keys["default"]; dup {
				d.errorf(k, "given.key: key \"default\" is already changed by given.keys; change it in one place")
				continue
			}
			p := &KeyPatch{}
			d.decode(v, reflectOf(p), "given.key")
			g.Keys["default"] = p
		case "keys":
			for _, kv2 := range d.mappingPairs(v, "given.keys") {
				if _, dup := g.Keys[kv2[0].Value]; dup {
					d.errorf(kv2[0], "given.keys: key %q is already changed by given.key; change it in one place", kv2[0].Value)
					continue
				}
				p := &KeyPatch{}
				d.decode(kv2[1], reflectOf(p), "given.keys."+kv2[0].Value)
				g.Keys[kv2[0].Value] = p
			}
		case "settings":
			g.Settings = &SettingsPatch{}
			d.decode(v, reflectOf(g.Settings), "given.settings")
		default:
			d.errorf(k, "given: unknown field %q; expected one of: key, keys, settings%s", k.Value, didYouMean(k.Value, []string{"key", "keys", "settings"}))
		}
	}
	return g
}

// checkNeeds reports steps that use a capability the header does not declare,
// so that a reader sees every need in the header.
// where names the header to add them to ("the scenario's needs").
func (d *decoder) checkNeeds(s *Scenario, n *yaml.Node, where string) {
	declared := map[string]bool{}
	for _, x := range s.Needs {
		declared[x] = true
	}
	if s.Given != nil && !declared[NeedAdmin] {
		d.errorf(n, "scenario %q: given changes the server through its admin API: add admin to needs", s.Name)
	}
	for _, v := range sortedKeys(builtinVars) {
		need := builtinVars[v].need
		if at := d.used[v]; at != nil && need != "" && !declared[need] {
			d.errorf(at, "${%s}: needs %s: add %s to %s", v, need, need, where)
		}
	}
	for _, st := range s.Steps {
		for _, need := range st.Action.needs() {
			if !declared[need] {
				d.errorf(&yaml.Node{Line: st.Line, Column: st.Column}, "step %s: needs %s: add %s to %s", st.label(st.index), need, need, where)
			}
		}
	}
}

// step reads one step; vars collects the variables captured so far.
func (d *decoder) step(n *yaml.Node, index int, vars map[string]bool) *Step {
	n = resolve(n)
	st := &Step{Line: n.Line, Column: n.Column, index: index}
	var captureNode *yaml.Node
	var expectNodes []*yaml.Node
	unknown := false
	if n.Kind == yaml.MappingNode && d.repeatOptions(st, n) && !vars[iterationVar] {
		vars[iterationVar] = true // ${iteration}, in this step only
		defer delete(vars, iterationVar)
	}
	for _, kv := range d.mappingPairs(n, fmt.Sprintf("step %d", index)) {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "name":
			d.decode(v, reflectOf(&st.Name), "step name")
		case "expect":
			expectNodes = append(expectNodes, v) // its variables are checked after the action's names are known
			st.Expect = d.expect(v)
		case "expect_last":
			expectNodes = append(expectNodes, v)
			st.ExpectLast = d.expect(v)
			if st.Repeat < 2 {
				d.errorf(k, "step %d: expect_last checks the last of several repetitions: add repeat: N (2 or more)", index)
			}
		case "repeat", "retry":
			d.checkVars(v, vars) // read by repeatOptions
		case "capture":
			captureNode = v
		case "concurrently":
			d.decode(v, reflectOf(&st.Concurrently), "concurrently")
			if st.Concurrently < 2 || st.Concurrently > 16 {
				d.errorf(v, "step %d: concurrently: expected 2 to 16 requests at once, found %d", index, st.Concurrently)
			}
		default:
			mk, ok := actionKinds[k.Value]
			if !ok {
				d.errorf(k, "step %d: unknown field %q; expected %s or one action: %s%s", index, k.Value, strings.Join(stepFields, ", "), actionList(),
					didYouMean(k.Value, append(slices.Clone(stepFields), slices.Collect(maps.Keys(actionKinds))...)))
				unknown = true
				continue
			}
			if st.Action != nil {
				d.errorf(k, "step %d: has two actions, %s and %s; expected exactly one", index, st.Kind, k.Value)
				continue
			}
			st.Kind = k.Value
			st.Action = mk()
			d.checkVars(v, vars)
			d.decode(v, reflectOf(st.Action), k.Value)
			if vd, ok := st.Action.(interface{ validate(*decoder, *yaml.Node) }); ok {
				vd.validate(d, v)
			}
		}
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if st.Action == nil {
		if !unknown {
			d.errorf(n, "step %d: expected one action: %s", index, actionList())
		}
		return nil
	}
	if st.Concurrently > 0 {
		d.checkConcurrently(n, st, index, captureNode != nil)
	} else if st.Expect != nil && st.Expect.Successes != nil {
		d.errorf(n, "step %d: expect.successes counts the answers of a step sent concurrently; add concurrently: N", index)
	}
	noteNames(st.Action, vars) // the expectations are checked after the action: they may use its session
	for _, v := range expectNodes {
		d.checkVars(v, vars)
	}
	if captureNode != nil {
		st.Capture = d.captures(captureNode)
		for _, c := range st.Capture {
			if d.protected[c.Var] {
				d.errorf(&yaml.Node{Line: c.Line, Column: c.Column}, "capture: %q is captured by the file's setup, which every scenario of the file shares; choose another name", c.Var)
			}
			vars[c.Var] = true
		}
	}
	return st
}

// checkConcurrently: a step sent concurrently must be one whose copies do
// not change the scenario's devices or sessions (a refresh with keep: true,
// or a call), and captures nothing (which copy's answer would it be?).
func (d *decoder) checkConcurrently(n *yaml.Node, st *Step, index int, capture bool) {
	ok := st.Kind == "call"
	if ra, isRefresh := st.Action.(*refreshAction); isRefresh && ra.Keep {
		ok = true
	}
	if !ok {
		d.errorf(n, "step %d: concurrently: expected a call or a refresh with keep: true, found %s", index, st.Kind)
	}
	if capture {
		d.errorf(n, "step %d: concurrently: a step sent several times at once captures nothing", index)
	}
	if st.Repeat > 1 || st.Retry != nil {
		d.errorf(n, "step %d: concurrently: expected no repeat or retry (the requests are sent at once)", index)
	}
	if st.Expect != nil && st.Expect.Successes != nil && *st.Expect.Successes > st.Concurrently {
		d.errorf(n, "step %d: expect.successes: %d of %d requests", index, *st.Expect.Successes, st.Concurrently)
	}
}

func actionList() string {
	names := make([]string, 0, len(actionKinds))
	for k := range actionKinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// The fields of a scenario header, of a step besides its action and of
// expect, as messages list them.
var (
	stepFields   = []string{"name", "expect", "expect_last", "capture", "repeat", "retry", "concurrently", "include"}
	headerFields = []string{"description", "given", "name", "needs", "rule", "severity", "steps", "tags"}
	expectFields = []string{"body", "headers", "json", "max_duration", "status", "successes"}
)

func (d *decoder) expect(n *yaml.Node) *Expect {
	e := &Expect{}
	for _, kv := range d.mappingPairs(n, "expect") {
		k, v := kv[0], resolve(kv[1])
		switch k.Value {
		case "status":
			items := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				items = v.Content
			}
			for _, it := range items {
				var code int
				d.decode(it, reflectOf(&code), "expect.status")
				if code != 0 && (code < 100 || code > 599) {
					d.errorf(it, "expect.status: expected an HTTP status between 100 and 599, found %d", code)
				}
				e.Status = append(e.Status, code)
			}
		case "headers":
			for _, kv2 := range d.mappingPairs(v, "expect.headers") {
				e.Headers = append(e.Headers, FieldCheck{Field: kv2[0].Value, Check: d.check(kv2[1], "expect.headers."+kv2[0].Value), Line: kv2[0].Line})
			}
		case "json":
			for _, kv2 := range d.mappingPairs(v, "expect.json") {
				p, err := compileJSONPath(kv2[0].Value)
				if err != nil {
					d.errorf(kv2[0], "expect.json: %v", err)
				}
				e.JSON = append(e.JSON, FieldCheck{Field: kv2[0].Value, Check: d.check(kv2[1], "expect.json."+kv2[0].Value), Line: kv2[0].Line, path: p})
			}
		case "body":
			c := d.check(v, "expect.body")
			e.Body = &c
		case "max_duration":
			var dur Duration
			d.decode(v, reflectOf(&dur), "expect.max_duration")
			e.MaxDuration = durationOf(dur)
		case "successes":
			var n int
			d.decode(v, reflectOf(&n), "expect.successes")
			if n < 0 {
				d.errorf(v, "expect.successes: expected a count of 2xx answers, found %d", n)
			}
			e.Successes = &n
		default:
			d.errorf(k, "expect: unknown field %q; expected one of: %s%s", k.Value, strings.Join(expectFields, ", "), didYouMean(k.Value, expectFields))
		}
	}
	return e
}

// captures reads "var: $.json.path", "var: header Name", "var: status" or
// "var: body".
func (d *decoder) captures(n *yaml.Node) []Capture {
	var out []Capture
	for _, kv := range d.mappingPairs(n, "capture") {
		k, v := kv[0], resolve(kv[1])
		c := Capture{Var: k.Value, Line: k.Line, Column: k.Column}
		if !validVar.MatchString(k.Value) {
			d.errorf(k, "capture: expected a variable name of lower-case letters, digits and _, found %q", k.Value)
			continue
		}
		if isBuiltinVar(k.Value) {
			d.errorf(k, "capture: %q is a built-in variable; choose another name", k.Value)
			continue
		}
		var spec string
		d.decode(v, reflectOf(&spec), "capture."+k.Value)
		switch {
		case strings.HasPrefix(spec, "$"):
			c.From, c.Path = "json", spec
		case strings.HasPrefix(spec, "json "):
			c.From, c.Path = "json", strings.TrimSpace(strings.TrimPrefix(spec, "json "))
		case strings.HasPrefix(spec, "header "):
			c.From, c.Path = "header", strings.TrimSpace(strings.TrimPrefix(spec, "header "))
		case spec == "status", spec == "body":
			c.From = spec
		case spec != "" && !strings.ContainsAny(spec, " \t"):
			c.From, c.Path = "json", spec // as in expect.json, the leading $. may be left out
		default:
			d.errorf(v, "capture.%s: expected a JSON path ($.token.access_token or token.access_token), header <Name>, status or body, found %q", k.Value, spec)
			continue
		}
		if c.From == "json" {
			p, err := compileJSONPath(c.Path)
			if err != nil {
				d.errorf(v, "capture.%s: %v", k.Value, err)
				continue
			}
			c.path = p
		}
		out = append(out, c)
	}
	return out
}

var validVar = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
