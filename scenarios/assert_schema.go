package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

func init() {
	registerAssertion(&assertionKind{
		Name: "schema",
		Doc:  "it is valid against a JSON Schema (draft 2020-12 unless the schema's `$schema` says another): inline, or a `.json` file named relative to the scenario file",
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
				if doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text)); err == nil {
					got = doc
				}
			}
			if err := s.schema.Validate(got); err != nil {
				return false, "valid against " + s.name, schemaProblems(err)
			}
			return true, "valid against " + s.name, ""
		},
	})
}

// jsonSchema is a compiled schema and how reports name it.
type jsonSchema struct {
	schema *jsonschema.Schema
	name   string // the file, or "the inline schema"
}

// decodeSchema reads schema's argument: a file name (relative to the
// scenario file) or an inline schema, compiled now so that a bad schema is
// reported by validate with its place.
func decodeSchema(d *decoder, n *yaml.Node, what string) any {
	c := jsonschema.NewCompiler()
	var loc, name string
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		path := n.Value
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(d.file), path)
		}
		doc, err := readSchemaFile(path)
		if err != nil {
			d.errorf(n, "%s: %v", what, err)
			return nil
		}
		abs, _ := filepath.Abs(path)
		loc, name = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), n.Value
		if err := c.AddResource(loc, doc); err != nil {
			d.errorf(n, "%s: %s: %v", what, n.Value, err)
			return nil
		}
	case n.Kind == yaml.MappingNode || n.Kind == yaml.ScalarNode && n.Tag == "!!bool":
		v := d.value(n, what)
		// Through JSON, so numbers are json.Number as the library wants.
		b, err := json.Marshal(v)
		var doc any
		if err == nil {
			doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(b))
		}
		if err == nil {
			err = c.AddResource("inline.json", doc)
		}
		if err != nil {
			d.errorf(n, "%s: %v", what, err)
			return nil
		}
		loc, name = "inline.json", "the inline schema"
	default:
		d.errorf(n, "%s: expected a JSON Schema file name or an inline schema (a mapping), found %s", what, kindName(n))
		return nil
	}
	s, err := c.Compile(loc)
	if err != nil {
		d.errorf(n, "%s: not a valid JSON Schema: %s", what, oneLineSchemaError(err))
		return nil
	}
	return &jsonSchema{schema: s, name: name}
}

// readSchemaFile reads a JSON Schema file of at most MaxFileSize bytes.
func readSchemaFile(path string) (any, error) {
	data, err := readFileOf(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the schema: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, MaxFileSize>>20)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s is not JSON: %v", path, err)
	}
	return doc, nil
}

// schemaProblems lists where and why a value fails a schema, one cause a
// clause: at '/items/0': missing property 'email'; ...
func schemaProblems(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	return oneLineSchemaError(ve)
}

// oneLineSchemaError joins the library's indented lines, dropping its
// first line (which names the schema's URL).
func oneLineSchemaError(err error) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > 1 {
		lines = lines[1:]
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "- ")
	}
	return strings.Join(lines, "; ")
}
