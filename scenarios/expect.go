package scenarios

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paragon-cli/paragon/internal/redact"
)

func reflectOf(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

func durationOf(d Duration) time.Duration { return time.Duration(d) }

// pathSeg is one step of a JSON path: an object key or an array index.
type pathSeg struct {
	key   string
	index int
	isIdx bool
}

var (
	segRe   = regexp.MustCompile(`^([^\[\]]*)((?:\[\d+\])*)$`)
	indexRe = regexp.MustCompile(`\d+`)
)

// parseJSONPath reads the JSONPath subset the format uses: $.a.b[0].c (the
// leading "$." may be left out; "$" alone is the whole document).
func parseJSONPath(p string) ([]pathSeg, error) {
	s := strings.TrimPrefix(p, "$")
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, nil
	}
	var out []pathSeg
	for _, part := range strings.Split(s, ".") {
		m := segRe.FindStringSubmatch(part)
		if m == nil || (m[1] == "" && m[2] == "") {
			return nil, fmt.Errorf("bad JSON path %q: expected $.key.key[0] (keys separated by dots, array indexes in brackets)", p)
		}
		if m[1] != "" {
			out = append(out, pathSeg{key: m[1]})
		}
		for _, idx := range indexRe.FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(idx)
			out = append(out, pathSeg{index: n, isIdx: true})
		}
	}
	return out, nil
}

// lookupJSON follows a path; ok is false when something on the way is missing.
func lookupJSON(v any, p string) (any, bool) {
	segs, err := parseJSONPath(p)
	if err != nil {
		return nil, false
	}
	for _, s := range segs {
		if s.isIdx {
			a, ok := v.([]any)
			if !ok || s.index >= len(a) {
				return nil, false
			}
			v = a[s.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s.key]; !ok {
			return nil, false
		}
	}
	return v, true
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64, int:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// show prints a value compactly for reports.
func show(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// sameValue compares an expected YAML scalar with an actual JSON value:
// numbers by value, everything else exactly.
func sameValue(want, got any) bool {
	wf, wnum := number(want)
	gf, gnum := number(got)
	if wnum && gnum {
		return wf == gf
	}
	if wnum != gnum {
		return false
	}
	return reflect.DeepEqual(want, got)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// asText is the text a regexp or a header check sees.
func asText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// expandAny expands ${} in a string expected value.
func (r *scenarioRun) expandAny(v any) (any, error) {
	if s, ok := v.(string); ok {
		return r.expand(s)
	}
	return v, nil
}

// checkOne evaluates c against a value (present says whether it exists).
// textual is true for headers and the body: values compare as text.
func (r *scenarioRun) checkOne(what string, c Check, got any, present bool, textual bool) []Failure {
	var fs []Failure
	add := func(exp, want, actual string) {
		fs = append(fs, Failure{Expectation: r.mask.Scrub(what + " " + exp), Expected: r.mask.Scrub(want), Actual: r.mask.Scrub(actual)})
	}
	actual := "absent"
	if present {
		actual = show(got)
	}
	if c.Present != nil {
		if *c.Present && !present {
			add("present", "present", "absent")
			return fs
		}
		if !*c.Present && present {
			add("absent", "absent", actual)
			return fs
		}
	}
	if !present {
		if c.HasEquals || c.Matches != "" || c.Type != "" || c.Length != nil || len(c.OneOf) > 0 {
			add("present", "present", "absent")
		}
		return fs
	}
	eq := func(want any) bool {
		if textual {
			return asText(want) == asText(got)
		}
		return sameValue(want, got)
	}
	if c.HasEquals {
		want, err := r.expandAny(c.Equals)
		if err != nil {
			add("equals", "a value", err.Error())
		} else if !eq(want) {
			add("equals", show(want), actual)
		}
	}
	if c.HasNot {
		want, err := r.expandAny(c.NotEquals)
		if err != nil {
			add("not_equals", "a value", err.Error())
		} else if eq(want) {
			add("not_equals", "not "+show(want), actual)
		}
	}
	if c.Matches != "" {
		pat, err := r.expand(c.Matches)
		var re *regexp.Regexp
		if err == nil {
			re, err = regexp.Compile(pat)
		}
		if err != nil {
			add("matches", "a regular expression", err.Error())
		} else if !re.MatchString(asText(got)) {
			add("matches", "matching /"+pat+"/", actual)
		}
	}
	if c.Type != "" {
		t := jsonType(got)
		if textual {
			t = "string"
		}
		if t != c.Type {
			add("type", c.Type, t+" "+actual)
		}
	}
	if c.Length != nil {
		n := -1
		switch x := got.(type) {
		case string:
			n = utf8.RuneCountInString(x)
		case []any:
			n = len(x)
		case map[string]any:
			n = len(x)
		}
		if n != *c.Length {
			add("length", strconv.Itoa(*c.Length), fmt.Sprintf("%d (%s)", n, actual))
		}
	}
	if len(c.OneOf) > 0 {
		ok := false
		var shown []string
		for _, w := range c.OneOf {
			w, err := r.expandAny(w)
			if err != nil {
				add("one_of", "a value", err.Error())
				return fs
			}
			shown = append(shown, show(w))
			ok = ok || eq(w)
		}
		if !ok {
			add("one_of", "one of ["+strings.Join(shown, ", ")+"]", actual)
		}
	}
	return fs
}

// check evaluates a step's expectations against its answer.
func (r *scenarioRun) check(e *Expect, ex *exchange) []Failure {
	var fs []Failure
	status := []int(nil)
	if e != nil {
		status = e.Status
	}
	if len(status) == 0 {
		if ex.status/100 != 2 {
			fs = append(fs, Failure{Expectation: "status 2xx", Expected: "2xx", Actual: r.statusText(ex)})
		}
	} else if !slices.Contains(status, ex.status) {
		want := make([]string, len(status))
		for i, s := range status {
			want[i] = strconv.Itoa(s)
		}
		exp := "status " + want[0]
		if len(want) > 1 {
			exp = "status in [" + strings.Join(want, ", ") + "]"
		}
		fs = append(fs, Failure{Expectation: exp, Expected: strings.Join(want, " or "), Actual: r.statusText(ex)})
	}
	if e == nil {
		return fs
	}
	for _, h := range e.Headers {
		vals := ex.header.Values(h.Field)
		fs = append(fs, r.checkOne("header "+h.Field, h.Check, strings.Join(vals, ", "), len(vals) > 0, true)...)
	}
	if len(e.JSON) > 0 {
		doc, err := ex.parsedJSON()
		if err != nil {
			fs = append(fs, Failure{Expectation: "body is JSON", Expected: "a JSON document", Actual: r.mask.Scrub("not JSON: " + err.Error())})
		} else {
			for _, j := range e.JSON {
				v, ok := lookupJSON(doc, j.Field)
				fs = append(fs, r.checkOne("json "+j.Field, j.Check, v, ok, false)...)
			}
		}
	}
	if e.Body != nil {
		fs = append(fs, r.checkOne("body", *e.Body, string(ex.body), true, true)...)
	}
	if e.MaxDuration > 0 && ex.duration > e.MaxDuration {
		fs = append(fs, Failure{Expectation: "max_duration " + e.MaxDuration.String(), Expected: "at most " + e.MaxDuration.String(), Actual: ex.duration.Round(time.Millisecond).String()})
	}
	return fs
}

// statusText is the status and, for errors, the error code, e.g.
// `400 {"error":"invalid_grant"}`.
func (r *scenarioRun) statusText(ex *exchange) string {
	s := strconv.Itoa(ex.status)
	if code, ok := ex.jsonString("error"); ok {
		s += fmt.Sprintf(" (error %q)", code)
	}
	return r.mask.Scrub(s)
}

// capture saves the step's captures; a missing value is a failure.
func (r *scenarioRun) capture(cs []Capture, ex *exchange) []Failure {
	var fs []Failure
	for _, c := range cs {
		var val string
		ok := true
		switch c.From {
		case "status":
			val = strconv.Itoa(ex.status)
		case "body":
			val = string(ex.body)
		case "header":
			val = ex.header.Get(c.Path)
			ok = len(ex.header.Values(c.Path)) > 0
		case "json":
			doc, err := ex.parsedJSON()
			var v any
			if err == nil {
				v, ok = lookupJSON(doc, c.Path)
			} else {
				ok = false
			}
			val = asText(v)
		}
		if !ok {
			fs = append(fs, Failure{Expectation: "capture " + c.Var, Expected: c.From + " " + c.Path + " present", Actual: "absent"})
			continue
		}
		r.vars[c.Var] = val
		if c.From == "header" && redact.Header(c.Path) || c.From == "json" && redact.Name(strings.TrimRight(c.Path, `'"]`)) {
			r.mask.Add(val)
		}
	}
	return fs
}
