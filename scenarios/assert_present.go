package scenarios

import "gopkg.in/yaml.v3"

func init() {
	registerAssertion(&assertionKind{
		Name: "present",
		Doc:  "`present: true`: it exists (the path selects a node); `present: false`: it does not",
		Example: `- call: GET /version
  expect:
    json:
      version: {present: true}
      password: {present: false}
`,
		decode: decodeBool,
		nodes: func(arg any, n int) (bool, string, string) {
			if arg.(bool) {
				return n > 0, "present", "absent"
			}
			return n == 0, "absent", ""
		},
	})
	registerAssertion(&assertionKind{
		Name: "absent",
		Doc:  "`absent: true`: it does not exist (the path selects nothing)",
		Example: `- call: GET /users/all
  expect:
    headers:
      WWW-Authenticate: {absent: true}
    json:
      $.items[?@.username == 'mallory']: {absent: true}
`,
		decode: decodeBool,
		nodes: func(arg any, n int) (bool, string, string) {
			if arg.(bool) {
				return n == 0, "absent", ""
			}
			return n > 0, "present", "absent"
		},
	})
}

func decodeBool(d *decoder, n *yaml.Node, what string) any {
	var b bool
	d.decode(n, reflectOf(&b), what)
	return b
}
