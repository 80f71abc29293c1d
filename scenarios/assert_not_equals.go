package scenarios

func init() {
	registerAssertion(&assertionKind{
		Name: "not_equals",
		Doc:  "it exists and differs from `v`",
		Example: `- call: GET /version
  expect:
    json:
      apiVersion: {not_equals: v2}
`,
		decode: decodeScalar,
		test: func(expand expandFunc, arg, got any, textual bool) (bool, string, string) {
			want, err := expandAny(expand, arg)
			if err != nil {
				return false, "a value", err.Error()
			}
			return !equalValues(want, got, textual), "not " + show(want), ""
		},
	})
}
