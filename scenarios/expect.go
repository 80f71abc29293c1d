package scenarios

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

func reflectOf(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

func durationOf(d Duration) time.Duration { return time.Duration(d) }

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
		var values []any
		if len(vals) > 0 {
			values = []any{strings.Join(vals, ", ")}
		}
		fs = append(fs, r.evaluate("header "+h.Field, h.Check, values, len(vals), true)...)
	}
	if len(e.JSON) > 0 {
		doc, err := ex.parsedJSON()
		if err != nil {
			fs = append(fs, Failure{Expectation: "body is JSON", Expected: "a JSON document", Actual: r.mask.Scrub("not JSON: " + err.Error())})
		} else {
			for _, j := range e.JSON {
				p, err := pathOf(j.path, j.Field)
				if err != nil { // the validator refuses bad paths; a Check built in Go may have one
					fs = append(fs, Failure{Expectation: "json " + j.Field, Expected: "a JSON path", Actual: err.Error()})
					continue
				}
				nodes := p.selectJSON(doc)
				fs = append(fs, r.evaluate("json "+j.Field, j.Check, nodes, len(nodes), false)...)
			}
		}
	}
	if e.Body != nil {
		fs = append(fs, r.evaluate("body", *e.Body, []any{string(ex.body)}, 1, true)...)
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

// capture saves the step's captures; a missing value is a failure. A JSON
// value keeps its type (a number stays a number, an object an object); the
// status is a number; a header and the body are strings.
func (r *scenarioRun) capture(cs []Capture, ex *exchange) []Failure {
	var fs []Failure
	for _, c := range cs {
		var val any
		ok := true
		switch c.From {
		case "status":
			val = json.Number(strconv.Itoa(ex.status))
		case "body":
			val = string(ex.body)
		case "header":
			val = ex.header.Get(c.Path)
			ok = len(ex.header.Values(c.Path)) > 0
		case "json":
			doc, err := ex.parsedJSON()
			p, perr := pathOf(c.path, c.Path)
			if ok = err == nil && perr == nil; ok {
				val, ok = p.first(doc)
			}
		}
		if !ok {
			fs = append(fs, Failure{Expectation: "capture " + c.Var, Expected: c.From + " " + c.Path + " present", Actual: "absent"})
			continue
		}
		r.vars[c.Var] = val
		r.maskCapture(c, val)
	}
	return fs
}
