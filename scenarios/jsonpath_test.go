package scenarios

import (
	"encoding/json"
	"testing"
)

// FuzzJSONPath: any text either compiles or is refused with an error, and
// a compiled path selects from any JSON document without panicking.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"$", "a.b[0]", "$.items[*].name", "$..id", "$.items[?@.n > 1 && length(@.s) == 2]", "$.a[1:5:2]", "x-y.z", "$['a\\u0000']"} {
		f.Add(s, `{"items":[{"n":2,"s":"ab","id":1}],"a":[1,2,3,4,5,6],"x-y":{"z":null}}`)
	}
	f.Fuzz(func(t *testing.T, path, doc string) {
		p, err := compileJSONPath(path)
		if err != nil {
			return
		}
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		nodes := p.selectJSON(v)
		if p.singular && len(nodes) > 1 {
			t.Fatalf("singular path %q selected %d nodes", path, len(nodes))
		}
	})
}
