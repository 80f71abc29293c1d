package scenarios

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong in a scenario file: where it is and what was
// expected there.
type Problem struct {
	File    string
	Line    int
	Column  int
	Message string
}

// String formats the problem as file:line:column: message (file:line:
// message when the column is unknown, as for YAML syntax errors).
func (p Problem) String() string {
	if p.Column == 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
}

// ValidationError lists every problem found in the scenario files read by
// Builtin or LoadPaths, in file and line order.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one a line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// decoder turns yaml.Nodes into Go values strictly: unknown fields, wrong
// kinds and bad values become Problems with their position; it never stops
// at the first one.
type decoder struct {
	file       string
	problems   []Problem
	used       map[string]*yaml.Node // built-in variables used by the current scenario, where first
	ext        map[string]bool       // variables given from outside the files (--var, --vars-file)
	named      []*Scenario           // every scenario read with a name, valid or not, for duplicate names
	stepsFiles map[string]*stepsFile // steps files read for include, by path (nil: had problems)
	hooks      *FileHooks            // the current file's setup and teardown, if it has them
	protected  map[string]bool       // variables the current scenario may not capture (its file's setup's)

	ctx     context.Context  // stops the decoder when cancelled
	visited int              // nodes visited in the current file, aliases followed
	budget  int              // the most it may visit
	stopped bool             // the budget ran out or ctx was cancelled: visit no more
	keep    int              // problems to keep once stopped (later ones follow from stopping)
	seen    map[Problem]bool // problems reported: a node reached through several aliases is reported once
}

// nodeBudget is how many YAML nodes the decoder may visit in a file of
// size bytes, following aliases: far more than a real scenario file has (a
// node takes a few bytes and is visited a few times), far fewer than a
// few nested aliases expand to (nine levels of ten aliases are 10^9).
func nodeBudget(size int) int { return 100_000 + 10*size }

// visit counts a node; it reports false when the decoder must stop: the
// file expanded beyond its budget (reported once, at n) or ctx was
// cancelled.
func (d *decoder) visit(n *yaml.Node) bool {
	if d.stopped {
		return false
	}
	d.visited++
	if d.visited > d.budget {
		d.stopped = true
		d.keep = len(d.problems) + 1
		d.errorf(n, "the file expands to more than %d YAML nodes: are aliases (*name) nested in aliases? Write the values out instead", d.budget)
		return false
	}
	if d.visited%1024 == 0 && d.ctx.Err() != nil {
		d.stopped = true
		d.keep = len(d.problems)
		return false
	}
	return true
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	p := Problem{File: d.file, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
	if d.seen[p] {
		return
	}
	if d.seen == nil {
		d.seen = map[Problem]bool{}
	}
	d.seen[p] = true
	d.problems = append(d.problems, p)
}

// nodeDecoder is implemented by types that read themselves from a node.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node)
}

// shorthand is implemented by action types that may be written as a single
// scalar ("approve: printer").
type shorthand interface {
	setShorthand(d *decoder, n *yaml.Node)
}

var (
	nodeDecoderType = reflect.TypeFor[nodeDecoder]()
	shorthandType   = reflect.TypeFor[shorthand]()
	durationType    = reflect.TypeFor[Duration]()
)

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// mappingPairs returns the key/value pairs of a mapping, reporting duplicate
// keys. what names the mapping in messages.
func (d *decoder) mappingPairs(n *yaml.Node, what string) [][2]*yaml.Node {
	n = resolve(n)
	if !d.visit(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping, found %s", what, kindName(n))
		return nil
	}
	seen := map[string]bool{}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: expected a plain key", what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "%s: %q given twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

// decode reads n into the value v points to. what names the place for
// messages ("register", "expect.status").
func (d *decoder) decode(n *yaml.Node, v reflect.Value, what string) {
	n = resolve(n)
	if !d.visit(n) {
		return
	}
	if v.Kind() != reflect.Pointer && v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n)
		return
	}
	if v.Kind() != reflect.Pointer && v.CanAddr() && n.Kind == yaml.ScalarNode && v.Addr().Type().Implements(shorthandType) {
		v.Addr().Interface().(shorthand).setShorthand(d, n)
		return
	}
	if v.Type() == durationType {
		dur, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.errorf(n, "%s: expected a duration such as 5s, 61m or 2160h, found %s", what, kindName(n))
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), what)
		v.Set(p)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.errorf(n, "%s: expected a string, found %s", what, kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.errorf(n, "%s: expected true or false, found %s", what, kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.errorf(n, "%s: expected a whole number, found %s", what, kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		var items []*yaml.Node
		switch {
		case n.Kind == yaml.SequenceNode:
			items = n.Content
		case n.Kind == yaml.ScalarNode && n.Tag != "!!null" && v.Type().Elem().Kind() == reflect.String:
			items = []*yaml.Node{n} // a single word stands for a list of one
		default:
			d.errorf(n, "%s: expected a list, found %s", what, kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			d.decode(it, s.Index(i), fmt.Sprintf("%s[%d]", what, i))
		}
		v.Set(s)
	case reflect.Map:
		pairs := d.mappingPairs(n, what)
		m := reflect.MakeMapWithSize(v.Type(), len(pairs))
		for _, kv := range pairs {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(kv[1], e, what+"."+kv[0].Value)
			m.SetMapIndex(reflect.ValueOf(kv[0].Value).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Struct:
		d.decodeStruct(n, v, what)
	case reflect.Interface:
		if x := d.value(n, what); x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.errorf(n, "%s: cannot read into %s", what, v.Type())
	}
}

// value reads any YAML value (a scalar, a list, a mapping) as the JSON
// value it stands for, counting every node it visits (aliases followed), so
// that an alias bomb stops at the file's budget.
func (d *decoder) value(n *yaml.Node, what string) any {
	n = resolve(n)
	if !d.visit(n) {
		return nil
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, it := range n.Content {
			out[i] = d.value(it, fmt.Sprintf("%s[%d]", what, i))
		}
		return out
	case yaml.MappingNode:
		pairs := d.mappingPairs(n, what)
		out := make(map[string]any, len(pairs))
		for _, kv := range pairs {
			out[kv[0].Value] = d.value(kv[1], what+"."+kv[0].Value)
		}
		return out
	}
	var x any
	if err := n.Decode(&x); err != nil {
		d.errorf(n, "%s: %v", what, err)
	}
	return x
}

// structFields maps yaml names to field indexes, following ",inline".
func structFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, idx := range structFields(ft) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}

func fieldNames(fields map[string][]int) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, what string) {
	fields := structFields(v.Type())
	for _, kv := range d.mappingPairs(n, what) {
		idx, ok := fields[kv[0].Value]
		if !ok {
			d.errorf(kv[0], "%s: unknown field %q; expected one of: %s%s", what, kv[0].Value, fieldNames(fields), didYouMean(kv[0].Value, slices.Collect(maps.Keys(fields))))
			continue
		}
		f := v
		for _, i := range idx {
			if f.Kind() == reflect.Pointer {
				if f.IsNil() {
					f.Set(reflect.New(f.Type().Elem()))
				}
				f = f.Elem()
			}
			f = f.Field(i)
		}
		d.decode(kv[1], f, what+"."+kv[0].Value)
	}
}

// didYouMean suggests the option a mistyped word was probably meant to be:
// `; did you mean "x"?` for the closest option within two edits (and fewer
// than half the word's letters), else "".
func didYouMean(word string, options []string) string {
	best, bestDist := "", 3
	for _, o := range slices.Sorted(slices.Values(options)) { // ties: the first in order
		if d := editDistance(strings.ToLower(word), o); d < bestDist && 2*d < len([]rune(word)) {
			best, bestDist = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment) of a and b: insertions, deletions, substitutions and swaps of
// neighbours each count one.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}
