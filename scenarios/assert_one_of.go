package scenarios

import (
	"strings"

	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "one_of",
		Doc:  "it equals one of these",
		Example: `- call: GET /users/all
  expect:
    json:
      $.items[0].username: {one_of: [alice, bob, carol]}
`,
		decode: func(d *decoder, n *yaml.Node, what string) any {
			if n.Kind != yaml.SequenceNode {
				d.errorf(n, "%s: expected a list of values", what)
				return []any(nil)
			}
			var vals []any
			for _, it := range n.Content {
				var x any
				_ = it.Decode(&x)
				vals = append(vals, x)
			}
			return vals
		},
		test: func(expand expandFunc, arg, got any, textual bool) (bool, string, string) {
			ok := false
			var shown []string
			for _, w := range arg.([]any) {
				w, err := expandAny(expand, w)
				if err != nil {
					return false, "a value", err.Error()
				}
				shown = append(shown, show(w))
				ok = ok || equalValues(w, got, textual)
			}
			return ok, "one of [" + strings.Join(shown, ", ") + "]", ""
		},
	})
}
