package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "schema",
		Doc:  "it is valid against a JSON Schema (draft 2020-12, or draft-07 when the schema's `$schema` says so): inline, or a `.json` file named relative to the scenario file",
		Example: `- call: GET /users/all
  expect:
    json:
      $:
        schema:
          type: object
          required: [items]
          properties:
            items:
              type: array
              items:
                type: object
                required: [username, email]
                properties:
                  username: {type: string, minLength: 1}
                  admin: {type: boolean}
`,
		decode: decodeSchema,
		test: func(_ expandFunc, arg, got any, textual bool) (bool, string, string) {
			s, ok := arg.(*jsonSchema)
			if !ok { // the validator reported the schema
				return false, "a valid JSON Schema", "none"
			}
			if text, isText := got.(string); textual && isText {
				var doc any
				if err := json.Unmarshal([]byte(text), &doc); err == nil {
					got = doc
				}
			}
			if err := s.schema.Validate(plainJSON(got)); err != nil {
				return false, "valid against " + s.name, schemaProblems(err)
			}
			return true, "valid against " + s.name, ""
		},
	})
}

// jsonSchema is a resolved schema and how reports name it.
type jsonSchema struct {
	schema *jsonschema.Resolved
	name   string // the file, or "the inline schema"
}

// decodeSchema reads schema's argument: a file name (relative to the
// scenario file) or an inline schema, resolved now (with the files its
// $refs name) so that a bad schema is reported by validate with its place.
func decodeSchema(d *decoder, n *yaml.Node, what string) any {
	var (
		root *jsonschema.Schema
		base string
		name string
		err  error
	)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		path := n.Value
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(d.file), path)
		}
		if root, err = readSchemaFile(path); err != nil {
			d.errorf(n, "%s: %v", what, err)
			return nil
		}
		abs, _ := filepath.Abs(path)
		base, name = fileURL(abs), n.Value
	case n.Kind == yaml.MappingNode || n.Kind == yaml.ScalarNode && n.Tag == "!!bool":
		b, merr := json.Marshal(d.value(n, what))
		if merr == nil {
			root, merr = parseSchema(b)
		}
		if merr != nil {
			d.errorf(n, "%s: not a valid JSON Schema: %v", what, merr)
			return nil
		}
		// $refs in an inline schema are relative to the scenario file.
		abs, _ := filepath.Abs(filepath.Join(filepath.Dir(d.file), "inline.json"))
		base, name = fileURL(abs), "the inline schema"
	default:
		d.errorf(n, "%s: expected a JSON Schema file name or an inline schema (a mapping), found %s", what, kindName(n))
		return nil
	}
	rs, err := root.Resolve(&jsonschema.ResolveOptions{BaseURI: base, Loader: loadSchemaFile})
	if err != nil {
		d.errorf(n, "%s: not a valid JSON Schema: %s", what, oneLineSchemaError(err))
		return nil
	}
	if v := rs.Schema().Schema; v != "" && v != draft7 && v != draft7Hash && v != draft202012 {
		d.errorf(n, "%s: not a valid JSON Schema: $schema %q: the drafts paragon checks are 2020-12 and 07", what, v)
		return nil
	}
	return &jsonSchema{schema: rs, name: name}
}

// The $schema values the library validates.
const (
	draft202012 = "https://json-schema.org/draft/2020-12/schema"
	draft7      = "http://json-schema.org/draft-07/schema#"
	draft7Hash  = "https://json-schema.org/draft-07/schema#"
)

func fileURL(abs string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

// loadSchemaFile loads the schema a $ref names; only files are loaded
// (a scenario never reaches the network).
func loadSchemaFile(u *url.URL) (*jsonschema.Schema, error) {
	if u.Scheme != "file" {
		return nil, fmt.Errorf("$ref %s: only files are loaded", u)
	}
	return readSchemaFile(filepath.FromSlash(u.Path))
}

// readSchemaFile reads a JSON Schema file of at most MaxFileSize bytes.
func readSchemaFile(path string) (*jsonschema.Schema, error) {
	data, err := readFileOf(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the schema: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, MaxFileSize>>20)
	}
	s, err := parseSchema(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a JSON Schema: %v", path, err)
	}
	return s, nil
}

func parseSchema(data []byte) (*jsonschema.Schema, error) {
	var s jsonschema.Schema
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// plainJSON turns the json.Number of a decoded answer into float64, the
// number type the validator knows; maps and arrays are copied.
func plainJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = plainJSON(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = plainJSON(e)
		}
		return a
	}
	return v
}

// schemaProblems says why a value fails a schema, naming the part of the
// schema that refused it: the library's "validating root: validating
// /properties/n: type: …" becomes "schema /properties/n: type: …".
func schemaProblems(err error) string {
	msg := strings.TrimPrefix(err.Error(), "jsonschema: ")
	where := ""
	for {
		rest, ok := strings.CutPrefix(msg, "validating ")
		if !ok {
			break
		}
		at, tail, found := strings.Cut(rest, ": ")
		if !found {
			break
		}
		if at != "root" {
			where = at
		}
		msg = tail
	}
	if where != "" {
		msg = "schema " + where + ": " + msg
	}
	return oneLineSchemaError(errors.New(msg))
}

// oneLineSchemaError puts the library's message on one line, without its
// "jsonschema: " prefix.
func oneLineSchemaError(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "jsonschema: ")
	}
	return strings.Join(lines, "; ")
}
