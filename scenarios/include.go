package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// include: a step that stands for a named list of steps kept in a steps
// file (*.steps.yaml, which scenario directories do not load as
// scenarios):
//
//	# common.steps.yaml
//	login-as:
//	  params: [who]
//	  steps:
//	    - login: ${who}
//	    - call: {path: /version, as: "${who}"}
//
//	# a scenario
//	- include: {file: common.steps.yaml, steps: login-as, with: {who: carol}}
//	- include: common.steps.yaml#login-as     # when it has no params
//
// ${param} in the list is replaced by the value given in with before the
// steps are read, so they are validated like written-out steps (with the
// steps file's file:line). A steps file is read through the same bounded
// decoder as a scenario file (size, aliases, nesting); a list may include
// others, and an include that leads back to itself is refused.

// maxIncludeDepth bounds nested includes.
const maxIncludeDepth = 16

// stepsFileSuffix marks a file of reusable step lists.
const stepsFileSuffix = ".steps.yaml"

// stepsFile is a parsed steps file: its lists by name.
type stepsFile struct {
	lists map[string]*stepList
}

type stepList struct {
	params []string
	steps  *yaml.Node // a sequence
	line   int
}

// includeRef is one include step as written.
type includeRef struct {
	file, name string
	with       map[string]string
}

// isInclude reports whether a step node is an include.
func isInclude(n *yaml.Node) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "include" {
			return true
		}
	}
	return false
}

// includeSteps reads an include step and returns the steps it stands for.
// stack lists the lists being included ("file#name"), for cycles.
func (d *decoder) includeSteps(n *yaml.Node, next int, vars map[string]bool, stack []string) []*Step {
	n = resolve(n)
	var ref includeRef
	var at *yaml.Node
	for _, kv := range d.mappingPairs(n, "include") {
		k, v := kv[0], resolve(kv[1])
		if k.Value != "include" {
			d.errorf(k, "include: a step that includes steps has nothing else (found %q); put name, expect and capture in the included steps", k.Value)
			continue
		}
		at = v
		ref = d.includeRef(v)
	}
	if at == nil || ref.file == "" || ref.name == "" {
		return nil
	}
	path := ref.file
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(d.file), path)
	}
	key := path + "#" + ref.name
	if slices.Contains(stack, key) {
		var chain []string
		for _, k := range append(stack, key) {
			chain = append(chain, filepath.Base(k)) // file.steps.yaml#list
		}
		d.errorf(at, "include %s#%s: includes itself (%s); break the cycle", ref.file, ref.name, strings.Join(chain, " → "))
		return nil
	}
	if len(stack) >= maxIncludeDepth {
		d.errorf(at, "include %s#%s: more than %d nested includes", ref.file, ref.name, maxIncludeDepth)
		return nil
	}
	sf := d.readStepsFile(at, path, ref.file)
	if sf == nil {
		return nil
	}
	list, ok := sf.lists[ref.name]
	if ok && list == nil {
		return nil // its problems are reported
	}
	if !ok {
		names := make([]string, 0, len(sf.lists))
		for k := range sf.lists {
			names = append(names, k)
		}
		slices.Sort(names)
		d.errorf(at, "include: %s has no step list %q; it has: %s%s", ref.file, ref.name, strings.Join(names, ", "), didYouMean(ref.name, names))
		return nil
	}
	bad := false
	for _, p := range list.params {
		if _, given := ref.with[p]; !given {
			d.errorf(at, "include %s#%s: expected with: {%s: ...}; the list's params are: %s", ref.file, ref.name, p, strings.Join(list.params, ", "))
			bad = true
		}
	}
	for _, k := range sortedKeys(ref.with) {
		if !slices.Contains(list.params, k) {
			d.errorf(at, "include %s#%s: with.%s is not one of the list's params (%s)", ref.file, ref.name, k, strings.Join(list.params, ", "))
			bad = true
		}
	}
	if bad {
		return nil
	}
	// The included steps are read as the steps file's lines, and run and
	// reported at the include's line.
	file := d.file
	d.file = path
	defer func() { d.file = file }()
	steps := d.substitute(list.steps, ref.with)
	if steps == nil {
		return nil
	}
	var out []*Step
	index := next
	for _, sn := range steps.Content {
		if isInclude(sn) {
			inc := d.includeSteps(sn, index, vars, append(stack, key))
			for _, st := range inc {
				st.Line, st.Column = n.Line, n.Column
				out = append(out, st)
			}
			index += max(len(inc), 1)
			continue
		}
		if st := d.step(sn, index, vars); st != nil {
			st.Line, st.Column = n.Line, n.Column
			out = append(out, st)
		}
		index++
	}
	return out
}

// includeRef reads "file#name" or {file, steps, with}.
func (d *decoder) includeRef(v *yaml.Node) includeRef {
	var ref includeRef
	if v.Kind == yaml.ScalarNode {
		f, name, ok := strings.Cut(v.Value, "#")
		if !ok || f == "" || name == "" {
			d.errorf(v, "include: expected FILE#LIST (common.steps.yaml#login-as) or {file: FILE, steps: LIST, with: {...}}, found %q", v.Value)
		}
		ref.file, ref.name = f, name
		return ref
	}
	for _, kv := range d.mappingPairs(v, "include") {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "file":
			d.decode(val, reflectOf(&ref.file), "include.file")
		case "steps":
			d.decode(val, reflectOf(&ref.name), "include.steps")
		case "with":
			d.decode(val, reflectOf(&ref.with), "include.with")
		default:
			d.errorf(k, "include: unknown field %q; expected one of: file, steps, with%s", k.Value, didYouMean(k.Value, []string{"file", "steps", "with"}))
		}
	}
	if ref.file == "" || ref.name == "" {
		d.errorf(v, "include: expected file and steps (the list's name)")
	}
	return ref
}

// readStepsFile reads (once per run of the decoder) a steps file through
// the bounded decoder: at most MaxFileSize bytes; its nodes count against
// a budget of their own, added to the current file's.
func (d *decoder) readStepsFile(at *yaml.Node, path, shown string) *stepsFile {
	if sf, ok := d.stepsFiles[path]; ok {
		return sf // nil when it had problems, already reported
	}
	if d.stepsFiles == nil {
		d.stepsFiles = map[string]*stepsFile{}
	}
	d.stepsFiles[path] = nil
	data, err := readFileOf(path)
	if err != nil {
		d.errorf(at, "include: cannot read %s: %v", shown, err)
		return nil
	}
	if len(data) > MaxFileSize {
		d.errorf(at, "include: %s is larger than %d MiB", shown, MaxFileSize>>20)
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p := syntaxProblem(path, err)
		d.problems = append(d.problems, p)
		return nil
	}
	d.budget += nodeBudget(len(data))
	file := d.file
	d.file = path
	defer func() { d.file = file }()
	sf := &stepsFile{lists: map[string]*stepList{}}
	if len(doc.Content) == 0 {
		d.errorf(at, "include: %s is empty; expected named lists of steps", shown)
		return nil
	}
	for _, kv := range d.mappingPairs(doc.Content[0], "steps file") {
		k, v := kv[0], resolve(kv[1])
		l := &stepList{line: k.Line}
		listBefore := len(d.problems)
		for _, kv2 := range d.mappingPairs(v, k.Value) {
			switch kv2[0].Value {
			case "params":
				d.decode(kv2[1], reflectOf(&l.params), k.Value+".params")
			case "steps":
				l.steps = resolve(kv2[1])
				if l.steps.Kind != yaml.SequenceNode || len(l.steps.Content) == 0 {
					d.errorf(kv2[1], "%s.steps: expected a list of at least one step", k.Value)
				}
			case "description":
			default:
				d.errorf(kv2[0], "%s: unknown field %q; expected one of: description, params, steps%s", k.Value, kv2[0].Value, didYouMean(kv2[0].Value, []string{"description", "params", "steps"}))
			}
		}
		if l.steps == nil {
			d.errorf(k, "%s: expected steps", k.Value)
		}
		if len(d.problems) > listBefore {
			l = nil // reported; its includes add nothing
		}
		sf.lists[k.Value] = l
	}
	if d.stopped {
		return nil
	}
	d.stepsFiles[path] = sf
	return sf
}

// substitute copies n with ${param} replaced in every scalar by the value
// given for it; other ${...} are left for the variables. Every node copied
// counts against the decoder's budget (aliases are followed).
func (d *decoder) substitute(n *yaml.Node, with map[string]string) *yaml.Node {
	n = resolve(n)
	if n == nil || !d.visit(n) {
		return nil
	}
	c := *n
	c.Anchor, c.Alias = "", nil
	if n.Kind == yaml.ScalarNode {
		if len(with) > 0 && strings.Contains(n.Value, "${") {
			c.Value = varRef.ReplaceAllStringFunc(n.Value, func(m string) string {
				if v, ok := with[m[2:len(m)-1]]; ok {
					return v
				}
				return m
			})
		}
		return &c
	}
	c.Content = make([]*yaml.Node, 0, len(n.Content))
	for _, it := range n.Content {
		x := d.substitute(it, with)
		if x == nil {
			return nil
		}
		c.Content = append(c.Content, x)
	}
	return &c
}

// stepsFileProblem says why a steps file given as a scenario file is refused.
func stepsFileProblem(name string) string {
	return fmt.Sprintf("%s is a steps file (*%s): include its lists from a scenario (include: %s#LIST) instead of running it", name, stepsFileSuffix, filepath.Base(name))
}

// readFileOf reads a file a scenario names (a steps file, a schema): a
// regular file (not a device or a pipe, which could block the validator),
// at most MaxFileSize+1 bytes.
func readFileOf(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return readLimited(path, MaxFileSize)
}
