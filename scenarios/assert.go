package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// assertionKind is one check a scenario may write under expect.headers,
// expect.json or expect.body ("equals", "matches", ...). Each lives in its
// own file (assert_<name>.go) and registers itself, so a new assertion is
// one file: its name, its documentation, a runnable example, how it reads
// its argument and how it tests a value. The validator's messages and
// suggestions and the docs test take the names from this registry.
type assertionKind struct {
	Name string
	// Doc completes "holds when ...", as docs/scenarios.md's table says it.
	Doc string
	// Example is a list of steps using the assertion; a test runs it
	// against the reference server (unauthenticated requests allowed),
	// where it must pass.
	Example string

	// decode reads the argument (n is resolved), reporting problems
	// through d; what names the place in messages.
	decode func(d *decoder, n *yaml.Node, what string) any
	// test checks one value. It reports whether the value satisfies arg,
	// the expected text for a failure and, when not the value itself, the
	// actual text. expand resolves ${name} in arg; textual: headers and the
	// body, whose values are text.
	test func(expand expandFunc, arg any, got any, textual bool) (ok bool, expected, actual string)
	// nodes, instead of test, checks how many values the path selects (or
	// header values there are): present, absent, count.
	nodes func(arg any, n int) (ok bool, expected, actual string)
}

// expandFunc resolves the ${name} references in a string: a string that is
// exactly one reference takes the variable's typed value (a captured
// number, object, ...), any other the text with each reference replaced.
type expandFunc func(string) (any, error)

// assertions maps an assertion's name to its kind.
var assertions = map[string]*assertionKind{}

func registerAssertion(a *assertionKind) {
	if _, dup := assertions[a.Name]; dup || (a.test == nil) == (a.nodes == nil) {
		panic("scenarios: bad or duplicate assertion " + a.Name)
	}
	assertions[a.Name] = a
}

// assertionNames lists the registered assertions in name order.
func assertionNames() []string {
	var names []string
	for n := range assertions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// checkSynonyms are the names other test tools give the checks, with what
// to write instead.
var checkSynonyms = map[string]string{
	"exists": "present: true", "exist": "present: true", "not_exists": "present: false", "missing": "absent: true",
	"eq": "equals", "equal": "equals", "is": "equals", "ne": "not_equals", "not_equal": "not_equals",
	"gt": "greater_than", "greater": "greater_than", "more_than": "greater_than", "min": "greater_than",
	"lt": "less_than", "less": "less_than", "fewer_than": "less_than", "max": "less_than",
	"includes": "contains", "include": "contains", "has": "contains", "has_key": "contains",
	"startswith": "starts_with", "prefix": "starts_with", "begins_with": "starts_with",
	"regex": "matches", "match": "matches", "pattern": "matches",
	"in": "one_of", "any_of": "one_of", "size": "length", "len": "length", "json_schema": "schema",
}

// Check lists the assertions on one value (a header, a JSON path, the
// body); all of them must hold.
type Check struct {
	Assertions []Assertion
}

// Assertion is one registered check with its argument as read from YAML.
type Assertion struct {
	Name string // equals, not_equals, matches, present, absent, type, length, one_of, count
	Arg  any    // its argument, as the assertion reads it
}

// check reads one value's assertions: a scalar means equals; a mapping
// names registered assertions.
func (d *decoder) check(n *yaml.Node, what string) Check {
	n = resolve(n)
	var c Check
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.SequenceNode {
			d.errorf(n, "%s: expected a value to equal or a mapping of checks (%s)", what, strings.Join(assertionNames(), ", "))
			return c
		}
		c.Assertions = append(c.Assertions, Assertion{Name: "equals", Arg: assertions["equals"].decode(d, n, what)})
		return c
	}
	for _, kv := range d.mappingPairs(n, what) {
		k, v := kv[0], resolve(kv[1])
		a, ok := assertions[k.Value]
		if !ok {
			names := assertionNames()
			hint := didYouMean(k.Value, names)
			if alt, ok := checkSynonyms[strings.ToLower(k.Value)]; ok {
				hint = fmt.Sprintf("; did you mean %q?", alt)
			}
			d.errorf(k, "%s: unknown check %q; expected one of: %s%s", what, k.Value, strings.Join(names, ", "), hint)
			continue
		}
		c.Assertions = append(c.Assertions, Assertion{Name: k.Value, Arg: a.decode(d, v, what+"."+k.Value)})
	}
	return c
}

// evaluate checks c against the values a header, JSON path or the body
// yields. count is how many there are (header values, selected nodes);
// values are what the value assertions test: none, one, or for a JSON path
// selecting several nodes each node, of which any one satisfying every
// value assertion is enough. textual: the values compare as text.
func (r *scenarioRun) evaluate(what string, c Check, values []any, count int, textual bool) []Failure {
	var fs []Failure
	add := func(exp, want, actual string) {
		fs = append(fs, Failure{Expectation: r.mask.Scrub(what + " " + exp), Expected: r.mask.Scrub(want), Actual: r.mask.Scrub(actual)})
	}
	var valueChecks []Assertion
	for _, a := range c.Assertions {
		k := assertions[a.Name]
		if k.nodes == nil {
			valueChecks = append(valueChecks, a)
			continue
		}
		if ok, want, actual := k.nodes(a.Arg, count); !ok {
			if actual == "" {
				actual = showValues(values)
			}
			add(a.Name, want, actual)
			if a.Name != "count" {
				return fs // present or absent failed: the value checks say nothing more
			}
		}
	}
	if len(valueChecks) == 0 {
		return fs
	}
	if len(values) == 0 {
		add("present", "present", "absent")
		return fs
	}
	if len(values) == 1 {
		for _, a := range valueChecks {
			if ok, want, actual := assertions[a.Name].test(r.expandTyped, a.Arg, values[0], textual); !ok {
				if actual == "" {
					actual = show(values[0])
				}
				add(a.Name, want, actual)
			}
		}
		return fs
	}
	// Several nodes: the check holds when one node satisfies every value
	// assertion.
	var names, wants []string
	for _, a := range valueChecks {
		names = append(names, a.Name)
	}
	for i, v := range values {
		held := true
		for _, a := range valueChecks {
			ok, want, _ := assertions[a.Name].test(r.expandTyped, a.Arg, v, textual)
			if i == 0 {
				wants = append(wants, a.Name+" "+want)
			}
			held = held && ok
		}
		if held {
			return fs
		}
	}
	add(strings.Join(names, ", "), "a node with "+strings.Join(wants, " and "), fmt.Sprintf("%d nodes, none matching: %s", len(values), showValues(values)))
	return fs
}

// showValues prints the values a check saw: absent, the value, or the list.
func showValues(values []any) string {
	switch len(values) {
	case 0:
		return "absent"
	case 1:
		return show(values[0])
	}
	return show(values)
}
