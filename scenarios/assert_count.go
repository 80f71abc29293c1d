package scenarios

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "count",
		Doc:  "the JSON path selects n nodes (a header has n values)",
		Example: `- call: GET /users/all
  expect:
    json:
      $.items[*]: {count: 3}
      $.items[?@.username == 'bob']: {count: 1}
      $..email: {count: 3, matches: "^bob@"}   # and one of them is bob's
`,
		decode: func(d *decoder, n *yaml.Node, what string) any {
			i := decodeInt(d, n, what).(int)
			if i < 0 {
				d.errorf(n, "%s: expected a count of 0 or more, found %d", what, i)
			}
			return i
		},
		nodes: func(arg any, n int) (bool, string, string) {
			return n == arg.(int), strconv.Itoa(arg.(int)), fmt.Sprint(n)
		},
	})
}
