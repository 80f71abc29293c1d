package scenarios

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// jsonTypes are the values of the type check.
var jsonTypes = []string{"string", "number", "boolean", "object", "array", "null"}

func init() {
	registerAssertion(&assertionKind{
		Name: "type",
		Doc:  "its JSON type is `string`, `number`, `boolean`, `object`, `array` or `null` (a header or the body is a string)",
		Example: `- call: GET /users/all
  expect:
    json:
      $: {type: object}
      items: {type: array}
      $.items[0].username: {type: string}
`,
		decode: func(d *decoder, n *yaml.Node, what string) any {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return "null" // type: null reads as YAML's null
			}
			var t string
			d.decode(n, reflectOf(&t), what)
			if !slices.Contains(jsonTypes, t) {
				d.errorf(n, "%s: expected one of %s, found %q%s", what, strings.Join(jsonTypes, ", "), t, didYouMean(t, jsonTypes))
			}
			return t
		},
		test: func(_ expandFunc, arg, got any, textual bool) (bool, string, string) {
			t := jsonType(got)
			if textual {
				t = "string"
			}
			return t == arg.(string), arg.(string), t + " " + show(got)
		},
	})
}
