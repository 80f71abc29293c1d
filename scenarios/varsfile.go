package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/paragon-cli/paragon/internal/redact"
)

// Variables from outside the scenario files: `paragon scenario run --var
// NAME=VALUE` and `--vars-file FILE`. A scenario uses them as ${NAME}, like
// a capture. They are looked up after captures, built-in variables and
// device or session fields, and before the environment, so a --var or a
// vars file entry wins over an environment variable of the same name.

// Variable is a value given to a run from outside the scenario files.
type Variable struct {
	Name   string
	Value  string
	Secret bool   // marked secret in a vars file; see IsSecret
	Source string // where it was given, for messages: "--var" or "vars.yaml:3"
}

// IsSecret reports whether reports mask the variable's value: it was marked
// secret, or its name looks like a secret's (password, api_key, token,
// signing_key, ...; see redact.VarName, the policy environment variables
// and captures follow too).
func (v Variable) IsSecret() bool {
	return v.Secret || redact.VarName(v.Name)
}

var validVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckVarName says why name cannot be given as a variable, or nil: it must
// be letters, digits and '_' (not starting with a digit), and not the name
// of a built-in variable.
func CheckVarName(name string) error {
	if !validVarName.MatchString(name) {
		return fmt.Errorf("variable name %q: expected letters, digits and '_', not starting with a digit", name)
	}
	if isBuiltinVar(name) {
		return fmt.Errorf("variable name %q: a built-in variable (%s) cannot be set", name, strings.Join(sortedKeys(builtinVars), ", "))
	}
	return nil
}

// MaxVarsFileSize is the largest vars file ReadVarsFile reads.
const MaxVarsFileSize = 1 << 20

// maxVarsNodes bounds the YAML nodes of a vars file (aliases are refused,
// so this is the document itself).
const maxVarsNodes = 100_000

// ReadVarsFile reads a vars file (see ParseVars). Problems in it come as a
// *ValidationError.
func ReadVarsFile(name string) ([]Variable, error) {
	data, err := readLimited(name, MaxVarsFileSize)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxVarsFileSize {
		return nil, &ValidationError{Problems: []Problem{{File: name, Line: 1, Message: fmt.Sprintf("larger than %d MiB: not a vars file", MaxVarsFileSize>>20)}}}
	}
	return ParseVars(name, data)
}

// ParseVars reads a vars file: one YAML mapping of names to values, a value
// being a scalar or {value: VALUE, secret: true}:
//
//	user: alice
//	retries: 3
//	password: {value: wonderland, secret: true}
//
// Every problem (an unknown field, a list, a null, a duplicate or invalid
// name, aliases, several documents) comes back in a *ValidationError with
// file and line. Variables are returned in file order.
func ParseVars(file string, data []byte) ([]Variable, error) {
	var problems []Problem
	errorf := func(n *yaml.Node, format string, args ...any) {
		problems = append(problems, Problem{File: file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file: no variables
		}
		return nil, &ValidationError{Problems: []Problem{syntaxProblem(file, err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := 1
		if err == nil {
			line = extra.Line
		}
		return nil, &ValidationError{Problems: []Problem{{File: file, Line: line, Message: "a vars file is one YAML document; remove the second one (---)"}}}
	}
	// Aliases are refused, so the tree is no bigger than the text; count
	// its nodes anyway so that a deep or wide document stops early.
	nodes := 0
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		nodes++
		if nodes > maxVarsNodes {
			errorf(n, "more than %d YAML nodes: not a vars file", maxVarsNodes)
			return false
		}
		if n.Kind == yaml.AliasNode {
			errorf(n, "aliases (*%s) are not allowed in a vars file; write the value out", n.Value)
			return false
		}
		for _, c := range n.Content {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	if !walk(&doc) {
		return nil, &ValidationError{Problems: problems}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		errorf(root, "expected a mapping of variable names to values (NAME: VALUE), found %s", kindName(root))
		return nil, &ValidationError{Problems: problems}
	}
	var out []Variable
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			errorf(k, "expected a variable name, found %s", kindName(k))
			continue
		}
		if err := CheckVarName(k.Value); err != nil {
			errorf(k, "%v", err)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			errorf(k, "variable %q is already set on line %d", k.Value, prev)
			continue
		}
		seen[k.Value] = k.Line
		va := Variable{Name: k.Value, Source: fmt.Sprintf("%s:%d", file, k.Line)}
		ok := true
		switch v.Kind {
		case yaml.ScalarNode:
			ok = varScalar(v, k.Value, &va.Value, errorf)
		case yaml.MappingNode:
			hasValue := false
			for j := 0; j+1 < len(v.Content); j += 2 {
				fk, fv := v.Content[j], v.Content[j+1]
				switch fk.Value {
				case "value":
					hasValue = true
					ok = varScalar(fv, k.Value, &va.Value, errorf) && ok
				case "secret":
					if fv.Kind != yaml.ScalarNode || fv.Tag != "!!bool" {
						errorf(fv, "%s.secret: expected true or false, found %s", k.Value, describeNode(fv))
						ok = false
						continue
					}
					va.Secret = fv.Value == "true" || fv.Value == "True" || fv.Value == "TRUE"
				default:
					errorf(fk, "%s: unknown field %q; expected value and secret%s", k.Value, fk.Value, didYouMean(fk.Value, []string{"value", "secret"}))
					ok = false
				}
			}
			if !hasValue {
				errorf(v, "%s: expected a value (%s: {value: VALUE, secret: true})", k.Value, k.Value)
				ok = false
			}
		default:
			errorf(v, "%s: expected a value (a string or number) or {value: VALUE, secret: true}, found %s", k.Value, kindName(v))
			ok = false
		}
		if ok {
			out = append(out, va)
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return out, nil
}

// varScalar reads a variable's value: a string, number or boolean as
// written; null, lists and mappings are problems.
func varScalar(n *yaml.Node, name string, dst *string, errorf func(*yaml.Node, string, ...any)) bool {
	if n.Kind != yaml.ScalarNode {
		errorf(n, "%s: expected a value (a string or number), found %s", name, kindName(n))
		return false
	}
	if n.Tag == "!!null" {
		errorf(n, "%s: no value; write \"\" for an empty string", name)
		return false
	}
	*dst = n.Value
	return true
}

// describeNode is a scalar's text in quotes, else its kind.
func describeNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return kindName(n)
}
