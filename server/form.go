package server

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// form is a parsed form with strict access: a field given twice is an error.
type form struct {
	v url.Values
}

// parseURLEncoded parses body as application/x-www-form-urlencoded; the
// request's Content-Type must say so.
func parseURLEncoded(r *http.Request, body []byte) (form, *apiError) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return form{}, errf(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	return parseQuery(string(body))
}

func parseQuery(q string) (form, *apiError) {
	v, err := url.ParseQuery(q)
	if err != nil {
		return form{}, errf(http.StatusBadRequest, "invalid_request", "the form is not valid URL encoding")
	}
	return newForm(v)
}

// newForm checks that every name and value of v is UTF-8: whatever the
// server keeps of a form must read back the same from the state file.
func newForm(v url.Values) (form, *apiError) {
	for k, vals := range v {
		ok := utf8.ValidString(k)
		for _, s := range vals {
			ok = ok && utf8.ValidString(s)
		}
		if !ok {
			return form{}, errf(http.StatusBadRequest, "invalid_request", "the form field %q is not valid UTF-8", k)
		}
	}
	return form{v: v}, nil
}

// printable reports whether s can be a name or identifier: UTF-8 without
// control characters (C0, DEL, C1).
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// errNotPrintable is the error of a name or identifier that is not
// printable; adminErr answers it 400 invalid_request.
var errNotPrintable = errors.New("is not UTF-8 or has control characters")

// nameErr is the error for a name or identifier (what) that is not
// printable, or nil.
func nameErr(what, s string) error {
	if !printable(s) {
		return fmt.Errorf("%s %q %w", what, s, errNotPrintable)
	}
	return nil
}

// checkName refuses a name or identifier (what) that is not printable with
// 400 invalid_request.
func checkName(what, s string) *apiError {
	if err := nameErr(what, s); err != nil {
		return errf(http.StatusBadRequest, "invalid_request", "%v", err)
	}
	return nil
}

// one returns a field that may be absent ("") but not repeated.
func (f form) one(name string) (string, *apiError) {
	return atMostOne(f.v[name], name)
}

// atMostOne returns the only value of vals, "" for none, and an error naming
// what for more than one.
func atMostOne(vals []string, what string) (string, *apiError) {
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	default:
		return "", errf(http.StatusBadRequest, "invalid_request", "%s is given more than once", what)
	}
}

// has reports whether the field is present (possibly empty).
func (f form) has(name string) bool {
	_, ok := f.v[name]
	return ok
}

// required returns a field that must be present once and non-empty.
func (f form) required(name string) (string, *apiError) {
	v, e := f.one(name)
	if e != nil {
		return "", e
	}
	if v == "" {
		return "", errf(http.StatusBadRequest, "invalid_request", "%s is required", name)
	}
	return v, nil
}

// fields reads several fields at once; required ones are marked with a
// trailing "!". The first error wins.
func (f form) fields(names ...string) (map[string]string, *apiError) {
	out := make(map[string]string, len(names))
	for _, n := range names {
		req := false
		if len(n) > 0 && n[len(n)-1] == '!' {
			n, req = n[:len(n)-1], true
		}
		var v string
		var e *apiError
		if req {
			v, e = f.required(n)
		} else {
			v, e = f.one(n)
		}
		if e != nil {
			return nil, e
		}
		out[n] = v
	}
	return out, nil
}

// singleHeader returns a header that may be absent but not repeated.
func singleHeader(r *http.Request, name string) (string, *apiError) {
	return atMostOne(r.Header.Values(name), "header "+name)
}
