package scenarios

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "matches",
		Doc:  "its text matches the RE2 regular expression",
		Example: `- call: GET /version
  expect:
    headers:
      Content-Type: {matches: "^application/json"}
    json:
      product: {matches: "reference"}
`,
		decode: func(d *decoder, n *yaml.Node, what string) any {
			var pat string
			d.decode(n, reflectOf(&pat), what)
			if _, err := regexp.Compile(pat); err != nil && !strings.Contains(pat, "${") {
				d.errorf(n, "%s: expected a regular expression (RE2): %v", what, err)
			}
			return pat
		},
		test: func(expand expandFunc, arg, got any, _ bool) (bool, string, string) {
			x, err := expand(arg.(string))
			pat := asText(x)
			var re *regexp.Regexp
			if err == nil {
				re, err = regexp.Compile(pat)
			}
			if err != nil {
				return false, "a regular expression", err.Error()
			}
			return re.MatchString(asText(got)), "matching /" + pat + "/", ""
		},
	})
}
