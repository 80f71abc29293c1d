package scenarios

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/theory/jsonpath"
)

// jsonPath is a compiled JSONPath (RFC 9535) as expect.json keys and json
// captures use it.
type jsonPath struct {
	path     *jsonpath.Path
	singular bool // names and indexes only: selects at most one node
}

// compileJSONPath reads a JSONPath (RFC 9535: $.a.b[0], $.items[*].name,
// $.items[?@.role == 'admin'], $.items[1:3], $..id). The leading "$." may
// be left out ("token.access_token"), "$" alone is the whole document, and
// the dotted keys the format always took ($.error-code, $.a.0) still work.
func compileJSONPath(p string) (*jsonPath, error) {
	q := p
	switch {
	case q == "":
		q = "$"
	case strings.HasPrefix(q, "$"):
	case strings.HasPrefix(q, "["):
		q = "$" + q
	default:
		q = "$." + q
	}
	path, err := jsonpath.Parse(q)
	if err != nil {
		if old, ok := dottedPath(p); ok {
			path, err = jsonpath.Parse(old)
		}
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "jsonpath: ")
		return nil, fmt.Errorf("bad JSON path %q: %s (expected RFC 9535 JSONPath such as $.token.access_token, $.items[0].name, $.items[*].name or $.items[?@.name == 'bob'])", p, msg)
	}
	return &jsonPath{path: path, singular: path.Query().Singular() != nil}, nil
}

var (
	dottedSeg = regexp.MustCompile(`^([^\[\]]*)((?:\[\d+\])*)$`)
	dottedIdx = regexp.MustCompile(`\d+`)
)

// dottedPath rewrites a path of the format's first syntax ($.key.key[0],
// keys of any characters but dots and brackets) into bracket notation,
// which RFC 9535 takes for every key.
func dottedPath(p string) (string, bool) {
	s := strings.TrimPrefix(strings.TrimPrefix(p, "$"), ".")
	var b strings.Builder
	b.WriteString("$")
	for _, part := range strings.Split(s, ".") {
		m := dottedSeg.FindStringSubmatch(part)
		if m == nil || (m[1] == "" && m[2] == "") {
			return "", false
		}
		if m[1] != "" {
			k, _ := json.Marshal(m[1])
			fmt.Fprintf(&b, "[%s]", k)
		}
		for _, idx := range dottedIdx.FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(idx)
			fmt.Fprintf(&b, "[%d]", n)
		}
	}
	return b.String(), true
}

// selectJSON returns the nodes p selects in doc (a document decoded with
// json.Number numbers).
func (p *jsonPath) selectJSON(doc any) []any {
	return p.path.Select(doc)
}

// pathOf returns the compiled path of an expect.json key or a capture: the
// one the validator compiled, or (for one built in Go) compiled now.
func pathOf(compiled *jsonPath, text string) (*jsonPath, error) {
	if compiled != nil {
		return compiled, nil
	}
	return compileJSONPath(text)
}

// first returns the first node p selects in doc.
func (p *jsonPath) first(doc any) (any, bool) {
	nodes := p.selectJSON(doc)
	if len(nodes) == 0 {
		return nil, false
	}
	return nodes[0], true
}
