package scenarios

import (
	"strings"

	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "contains",
		Doc:  "a string has `v` as a substring, an array has an element equal to `v`, an object has the key `v` (a header or the body: a substring)",
		Example: `- call: GET /users/all
  expect:
    headers:
      Content-Type: {contains: json}
    json:
      $.items[0].email: {contains: "@example"}
      $.items[*].username: {contains: ali}          # some username
      $.items[0]: {contains: fullName}             # a key
      items: {contains: {username: bob, fullName: Bob, email: bob@example.com, admin: false}}
`,
		decode: decodeValue,
		test: func(expand expandFunc, arg, got any, textual bool) (bool, string, string) {
			want, err := expandAny(expand, arg)
			if err != nil {
				return false, "a value", err.Error()
			}
			expected := "containing " + show(want)
			if textual {
				return strings.Contains(asText(got), asText(want)), expected, ""
			}
			switch x := got.(type) {
			case string:
				return strings.Contains(x, asText(want)), expected, ""
			case []any:
				for _, e := range x {
					if equalValues(want, e, false) {
						return true, "an element equal to " + show(want), ""
					}
				}
				return false, "an element equal to " + show(want), ""
			case map[string]any:
				_, ok := x[asText(want)]
				return ok, "the key " + show(asText(want)), show(got)
			}
			return false, expected, show(got) + " (a " + jsonType(got) + ": contains takes a string, array or object)"
		},
	})
	registerAssertion(&assertionKind{
		Name: "starts_with",
		Doc:  "its text starts with `s`",
		Example: `- call: GET /version
  expect:
    headers:
      Content-Type: {starts_with: application/json}
    json:
      version: {starts_with: "1."}
`,
		decode: decodeScalar,
		test: func(expand expandFunc, arg, got any, _ bool) (bool, string, string) {
			want, err := expandAny(expand, arg)
			if err != nil {
				return false, "a value", err.Error()
			}
			return strings.HasPrefix(asText(got), asText(want)), "starting with " + show(asText(want)), ""
		},
	})
}

// decodeValue reads any YAML value (a scalar, a list, a mapping) as the
// JSON value it stands for.
func decodeValue(d *decoder, n *yaml.Node, what string) any { return d.value(n, what) }
