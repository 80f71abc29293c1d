package scenarios

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "greater_than",
		Doc:  "it is a number greater than `n`; with a duration (`30s`, `59m`) it is a duration, a plain number counting seconds (`Retry-After: 60`, `expires_in: 3600`)",
		Example: `- login: alice
  expect:
    json:
      $.token.expires_in: {greater_than: 0}
      token.expires_in: {greater_than: 59m}   # 3600 seconds
`,
		decode: decodeBound,
		test:   compareTest("greater than", func(c int) bool { return c > 0 }),
	})
	registerAssertion(&assertionKind{
		Name: "less_than",
		Doc:  "it is a number less than `n`; with a duration it is a duration, a plain number counting seconds",
		Example: `- login: alice
  expect:
    json:
      $.token.expires_in: {less_than: 86401}
      token.expires_in: {less_than: 24h}
`,
		decode: decodeBound,
		test:   compareTest("less than", func(c int) bool { return c < 0 }),
	})
}

// decodeBound reads the argument of greater_than and less_than: a number,
// a duration (30s, 1h30m) or a ${variable} holding one.
func decodeBound(d *decoder, n *yaml.Node, what string) any {
	var v any
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
		d.errorf(n, "%s: expected a number or a duration such as 30s", what)
		return nil
	}
	if s, ok := v.(string); ok && !strings.Contains(s, "${") {
		if _, _, ok := parseBound(s); !ok {
			d.errorf(n, "%s: expected a number or a duration such as 30s or 1h30m, found %q", what, s)
		}
	}
	return v
}

// parseBound reads a bound: a number, or else a duration (as seconds).
func parseBound(s string) (f float64, duration, ok bool) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, false, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d.Seconds(), true, true
	}
	return 0, false, false
}

// compareTest tests a value against a bound; holds says whether the sign
// of value - bound passes.
func compareTest(words string, holds func(int) bool) func(expandFunc, any, any, bool) (bool, string, string) {
	return func(expand expandFunc, arg, got any, _ bool) (bool, string, string) {
		want, err := expandAny(expand, arg)
		if err != nil {
			return false, "a value", err.Error()
		}
		isDuration := false
		bound, ok := number(want)
		if !ok {
			bound, isDuration, ok = parseBound(asText(want))
		}
		if !ok {
			return false, words + " a number or duration", "bound " + show(want) + " is neither"
		}
		expected := words + " " + asText(want)
		v, ok := number(got)
		if !ok {
			// text: a header, the body, a JSON string holding a number or,
			// against a duration, a duration
			var vd bool
			v, vd, ok = parseBound(asText(got))
			ok = ok && (!vd || isDuration)
		}
		if !ok {
			if isDuration {
				return false, expected, show(got) + " (not a number or a duration)"
			}
			return false, expected, show(got) + " (not a number)"
		}
		c := 0
		switch {
		case v > bound:
			c = 1
		case v < bound:
			c = -1
		}
		return holds(c), expected, ""
	}
}
