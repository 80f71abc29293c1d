package scenarios

import (
	"reflect"

	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "equals",
		Doc:  "the value equals `v` (numbers by value: `3600` equals `3600.0`; headers compare as text); a scalar alone is short for `equals`",
		Example: `- call: GET /version
  expect:
    json:
      apiVersion: {equals: v1}
      product: paragon reference server   # short for equals
`,
		decode: decodeScalar,
		test: func(expand expandFunc, arg, got any, textual bool) (bool, string, string) {
			want, err := expandAny(expand, arg)
			if err != nil {
				return false, "a value", err.Error()
			}
			return equalValues(want, got, textual), show(want), ""
		},
	})
}

// decodeScalar reads the argument of equals and not_equals: a string,
// number, boolean or null.
func decodeScalar(d *decoder, n *yaml.Node, what string) any {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: expected a string, number, boolean or null", what)
	}
	var v any
	_ = n.Decode(&v)
	return v
}

// equalValues compares an expected value with an actual one: as text for
// headers and the body, else numbers by value, objects and arrays element
// by element (so a captured object equals the same object sent again) and
// everything else exactly.
func equalValues(want, got any, textual bool) bool {
	if textual {
		return asText(want) == asText(got)
	}
	wf, wnum := number(want)
	gf, gnum := number(got)
	if wnum && gnum {
		return wf == gf
	}
	if wnum != gnum {
		return false
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			if gv, ok := g[k]; !ok || !equalValues(wv, gv, false) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !equalValues(w[i], g[i], false) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, got)
}

// expandAny expands ${} in a string expected value.
func expandAny(expand expandFunc, v any) (any, error) {
	if s, ok := v.(string); ok {
		return expand(s)
	}
	return v, nil
}
