package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
)

// field is one -f or -F after reading files.
type field struct {
	key   string
	value any    // string, or a JSON literal for -F
	file  string // the file name when the value came from @path or @- ("stdin")
	stdin bool   // the value came from @-
}

// text is the value in a query string, a form or a JSON object, where a
// value piped in from standard input loses its final line break (a file
// part keeps every byte).
func (f field) text() any {
	if s, ok := f.value.(string); ok && f.stdin {
		return strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
	}
	return f.value
}

// fields reads the -f and -F values (files, standard input, typed literals).
func (o *Options) fields() ([]field, error) {
	var out []field
	for _, f := range o.RawFields {
		k, v, _ := strings.Cut(f, "=")
		out = append(out, field{key: k, value: v})
	}
	for _, f := range o.TypedFields {
		k, v, _ := strings.Cut(f, "=")
		fd := field{key: k}
		switch {
		case v == "@-":
			b, err := io.ReadAll(o.IO.In)
			if err != nil {
				return nil, fmt.Errorf("reading standard input for field %s: %w", k, err)
			}
			// Like @path: a file part named "stdin" in a multipart form.
			fd.value, fd.file, fd.stdin = string(b), "stdin", true
		case strings.HasPrefix(v, "@"):
			b, err := os.ReadFile(v[1:])
			if err != nil {
				return nil, cmdutil.FlagErrorf("field %s: %v", k, err)
			}
			fd.value, fd.file = string(b), filepath.Base(v[1:])
		default:
			fd.value = typed(v)
		}
		out = append(out, fd)
	}
	return out, nil
}

// typed converts -F values: true, false, null and numbers become JSON
// literals, anything else stays a string.
func typed(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "xXnN") {
		return f
	}
	return v
}

// formString renders a field value for a form or a query string.
func formString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// buildRequest returns the request for the profile's server, with
// extraQuery (the page token) added.
func (o *Options) buildRequest(ctx context.Context, server string, extraQuery url.Values) (*http.Request, error) {
	u, err := o.resolve(server)
	if err != nil {
		return nil, err
	}
	fields, err := o.fields()
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	for _, h := range o.Headers {
		k, v, _ := strings.Cut(h, ":")
		hdr.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	q := u.Query()
	var body []byte
	bodyInQuery := o.Method == http.MethodGet || o.Method == http.MethodHead || o.Input != ""
	switch {
	case bodyInQuery:
		for _, f := range fields {
			q.Add(f.key, formString(f.text()))
		}
	case len(fields) == 0:
	case strings.Contains(strings.ToLower(hdr.Get("Content-Type")), "json"):
		obj := map[string]any{}
		for _, f := range fields {
			if prev, ok := obj[f.key]; ok {
				if arr, ok := prev.([]any); ok {
					obj[f.key] = append(arr, f.text())
				} else {
					obj[f.key] = []any{prev, f.text()}
				}
			} else {
				obj[f.key] = f.text()
			}
		}
		body, _ = json.Marshal(obj)
	case hasFile(fields):
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range fields {
			if f.file != "" {
				w, _ := mw.CreateFormFile(f.key, f.file)
				_, _ = io.WriteString(w, f.value.(string))
			} else {
				_ = mw.WriteField(f.key, formString(f.value))
			}
		}
		_ = mw.Close()
		body = buf.Bytes()
		hdr.Set("Content-Type", mw.FormDataContentType())
	default:
		form := url.Values{}
		for _, f := range fields {
			form.Add(f.key, formString(f.value))
		}
		body = []byte(form.Encode())
		if hdr.Get("Content-Type") == "" {
			hdr.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if o.Input != "" {
		if o.Input == "-" {
			body, err = io.ReadAll(o.IO.In)
		} else {
			body, err = os.ReadFile(o.Input)
		}
		if err != nil {
			return nil, cmdutil.FlagErrorf("--input: %v", err)
		}
	}
	for k, vs := range extraQuery {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body) // replayable: the token refresh may resend it
	}
	req, err := http.NewRequestWithContext(ctx, o.Method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", cmdutil.UserAgent())
	return req, nil
}

// hasFile reports whether a field came from -F key=@file.
func hasFile(fs []field) bool {
	for _, f := range fs {
		if f.file != "" {
			return true
		}
	}
	return false
}

// resolve turns the path into an absolute URL on server. A full URL must be
// on the profile's server: credentials are never sent elsewhere.
func (o *Options) resolve(server string) (*url.URL, error) {
	base, err := url.Parse(server)
	if err != nil {
		return nil, err
	}
	p := o.Path
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		u, err := url.Parse(p)
		if err != nil {
			return nil, cmdutil.FlagErrorf("invalid URL %q: %v", p, err)
		}
		if !strings.EqualFold(u.Host, base.Host) || u.Scheme != base.Scheme {
			return nil, cmdutil.FlagErrorf("refusing to send credentials to %s://%s: the profile's server is %s (use a path like /api/v1/version)", u.Scheme, u.Host, server)
		}
		return u, nil
	}
	if !strings.HasPrefix(p, "/") {
		p = "/api/v1/" + p
	}
	path, query, _ := strings.Cut(p, "?")
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + path
	u.RawQuery = query
	return &u, nil
}
