package server

import (
	"mime"
	"net/http"
	"net/url"
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
	return form{v: v}, nil
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
