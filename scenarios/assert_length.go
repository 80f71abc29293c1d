package scenarios

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "length",
		Doc:  "a string has n characters, an array n items, an object n keys",
		Example: `- call: GET /users/all
  expect:
    json:
      items: {length: 3}
      $.items[0].username: {length: 5}
`,
		decode: decodeInt,
		test: func(_ expandFunc, arg, got any, _ bool) (bool, string, string) {
			n := -1
			switch x := got.(type) {
			case string:
				n = utf8.RuneCountInString(x)
			case []any:
				n = len(x)
			case map[string]any:
				n = len(x)
			}
			want := arg.(int)
			return n == want, strconv.Itoa(want), fmt.Sprintf("%d (%s)", n, show(got))
		},
	})
}

func decodeInt(d *decoder, n *yaml.Node, what string) any {
	var i int
	d.decode(n, reflectOf(&i), what)
	return i
}
