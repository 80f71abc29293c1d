package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// File setup and teardown (the project's rule, docs/scenarios.md "File
// setup and teardown"): a scenario file's first document may hold only
// setup:, teardown: and needs:. Setup runs once before the first selected
// scenario of the file, teardown once after the last one ended, whatever
// happened to it. What setup captures and logs in is every scenario's and
// teardown's; no scenario may capture those names again, nor have a
// given (which resets the server). The file is one unit on one server.

// FileHooks is the setup and teardown of one scenario file.
type FileHooks struct {
	File     string
	Line     int
	Needs    []string  // what setup and teardown need from the target
	Setup    *Scenario // its steps as a scenario named "setup (FILE)"; nil: none
	Teardown *Scenario // "teardown (FILE)"; nil: none

	vars     map[string]bool // after setup: its captures and the devices and sessions it names
	captured map[string]bool // setup's captures only
}

// Hook kinds, as ScenarioResult.Hook names them.
const (
	HookSetup    = "setup"
	HookTeardown = "teardown"
)

// what names what a given would undo, for messages.
func (h *FileHooks) what() string {
	if h.Setup != nil {
		return "setup"
	}
	return "state its teardown expects"
}

var hookFields = []string{"needs", "setup", "teardown"}

// hookAliases are what other tools call setup and teardown.
var hookAliases = map[string]string{
	"set_up": "setup", "setUp": "setup", "before_all": "setup", "beforeAll": "setup", "before": "setup",
	"suite_setup": "setup", "setup_steps": "setup", "before_each": "setup", "beforeEach": "setup", "init": "setup",
	"tear_down": "teardown", "tearDown": "teardown", "after_all": "teardown", "afterAll": "teardown", "after": "teardown",
	"suite_teardown": "teardown", "cleanup": "teardown", "clean_up": "teardown", "after_each": "teardown", "afterEach": "teardown", "finally": "teardown",
}

// hookHint is didYouMean for a header field, knowing setup and teardown by
// their other names.
func hookHint(word string, options []string) string {
	if h, ok := hookAliases[word]; ok {
		return fmt.Sprintf("; did you mean %s? (setup: and teardown: run once per file, in a document of their own, the file's first)", h)
	}
	if h := didYouMean(word, hookFields[1:]); h != "" {
		return h + " (setup: and teardown: run once per file, in a document of their own, the file's first)"
	}
	return didYouMean(word, options)
}

// isHooksDoc reports whether a document is a file's setup and teardown: a
// mapping with setup or teardown and without a scenario's name or steps.
func isHooksDoc(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	hooks := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		switch {
		case k == "setup" || k == "teardown" || hookAliases[k] != "":
			hooks = true
		case k == "name" || k == "steps":
			return false
		}
	}
	return hooks
}

// fileHooks reads a file's setup and teardown document.
func (d *decoder) fileHooks(n *yaml.Node) *FileHooks {
	h := &FileHooks{File: d.file, Line: n.Line}
	d.used = map[string]*yaml.Node{}
	var setupNode, teardownNode *yaml.Node
	var setupKey, teardownKey *yaml.Node
	for _, kv := range d.mappingPairs(n, "file") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "needs":
			d.decode(v, reflectOf(&h.Needs), "needs")
			for _, need := range h.Needs {
				if !validNeeds[need] {
					d.errorf(v, "needs: expected admin, clock, device-key or second-key, found %q%s", need, didYouMean(need, slices.Collect(maps.Keys(validNeeds))))
				}
			}
		case "setup":
			setupKey, setupNode = k, resolve(v)
		case "teardown":
			teardownKey, teardownNode = k, resolve(v)
		default:
			hint := didYouMean(k.Value, hookFields)
			if h, ok := hookAliases[k.Value]; ok {
				hint = fmt.Sprintf("; did you mean %s?", h)
			}
			d.errorf(k, "file: unknown field %q beside setup and teardown; expected one of: %s%s", k.Value, strings.Join(hookFields, ", "), hint)
		}
	}
	vars := map[string]bool{}
	read := func(kind string, key, list *yaml.Node) *Scenario {
		if key == nil {
			return nil
		}
		if list == nil || list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
			at := key
			if list != nil {
				at = list
			}
			d.errorf(at, "%s: expected a list of at least one step", kind)
			return nil
		}
		return &Scenario{Name: fmt.Sprintf("%s (%s)", kind, d.file), Severity: SeverityFailure, Needs: h.Needs,
			Steps: d.stepList(list, vars), File: d.file, Line: key.Line, Column: key.Column, Hooks: h}
	}
	h.Setup = read(HookSetup, setupKey, setupNode)
	h.captured = map[string]bool{}
	for _, st := range stepsOf(h.Setup) {
		for _, c := range st.Capture {
			h.captured[c.Var] = true
		}
	}
	h.vars = maps.Clone(vars)
	h.Teardown = read(HookTeardown, teardownKey, teardownNode)
	all := &Scenario{Needs: h.Needs, Steps: append(stepsOf(h.Setup), stepsOf(h.Teardown)...)}
	d.checkNeeds(all, n, "the file's needs (beside setup:)")
	return h
}

func stepsOf(s *Scenario) []*Step {
	if s == nil {
		return nil
	}
	return s.Steps
}

// stepList reads a list of steps (a scenario's, setup's or teardown's),
// includes expanded; vars collects the variables captured so far.
func (d *decoder) stepList(list *yaml.Node, vars map[string]bool) []*Step {
	var out []*Step
	index := 1 // the step's number, included steps counted
	for _, sn := range list.Content {
		if isInclude(sn) {
			inc := d.includeSteps(sn, index, vars, nil)
			out = append(out, inc...)
			index += max(len(inc), 1)
			continue
		}
		if st := d.step(sn, index, vars); st != nil {
			out = append(out, st)
		}
		index++
	}
	return out
}
