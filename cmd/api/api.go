// Package api implements `paragon api`: an authorized HTTP call to the
// profile's server, in the spirit of `gh api`. Tokens are added and
// refreshed by package client; this command builds the request from flags
// and prints the answer.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/jsoncolor"
	"github.com/paragon-cli/paragon/keystore"
)

// Options holds what `paragon api` needs.
type Options struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context) (*cmdutil.Session, error)

	Method      string
	Path        string
	RawFields   []string // -f key=value
	TypedFields []string // -F key=value
	Headers     []string // -H "Key: value"
	Include     bool     // -i
	Input       string   // --input FILE, "-" for stdin
	Paginate    bool
	JQ          string
	Silent      bool

	// methodSet is true when -X was given.
	methodSet bool
	jq        *gojq.Code
}

// NewCmdAPI returns the api command. runF replaces the run function in tests.
func NewCmdAPI(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OpenSession: func(ctx context.Context) (*cmdutil.Session, error) {
		return f.OpenSession(ctx, nil)
	}}
	cmd := &cobra.Command{
		Use:   "api [<method>] <path>",
		Short: "Make an authorized request to the Paragon API",
		Long: `Send an HTTP request to the profile's server with its API key and the
logged-in user's token, refreshing the token when it has expired, and print
the answer: pretty and coloured JSON on a terminal, the raw body when piped.

A path without a leading slash is relative to /api/v1/, so "version" means
/api/v1/version. The method is GET, or POST when fields or --input are given;
name it with -X or as the first argument.

Fields: -f key=value adds a string; -F key=value adds a typed value (true,
false, null and numbers become JSON literals) or a file's content: @path
(sent as a file part of a multipart form) or @- (standard input). For GET
and HEAD the fields go in the query string. Otherwise the body is a form
(application/x-www-form-urlencoded, what the Paragon API reads), multipart
when a field is a file, or a JSON object when you pass
-H "Content-Type: application/json". Repeat a key to send it more than once.

An answer with a status outside 2xx prints the server's error and exits 1;
an expired login exits 4 and says to run paragon login.`,
		Example: `  $ paragon api version
  $ paragon api GET /api/v1/users/all -f maxrecords=10 --jq '.items[].username'
  $ paragon api -X PUT users -f username=dave -f detailtype=3 -f detaildata=s3cret
  $ paragon api PUT documents -F data=@report.pdf -f title=Report -F copies=2
  $ paragon api documents/history --paginate --jq '.items | length'
  $ paragon api -i HEAD account`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.methodSet = cmd.Flags().Changed("method")
			if err := opts.parseArgs(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Method, "method", "X", "", "HTTP method (default GET, or POST with fields or --input)")
	fl.StringArrayVarP(&opts.RawFields, "raw-field", "f", nil, "Add a string field `key=value`")
	fl.StringArrayVarP(&opts.TypedFields, "field", "F", nil, "Add a typed field `key=value` (true/false/null/number, @file, @-)")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, "Add a request header `\"Key: value\"`")
	fl.BoolVarP(&opts.Include, "include", "i", false, "Print the status line and headers before the body")
	fl.StringVar(&opts.Input, "input", "", "Send the `file`'s content as the body (\"-\" for standard input)")
	fl.BoolVar(&opts.Paginate, "paginate", false, "Follow nextPageToken and merge the pages' items")
	fl.StringVarP(&opts.JQ, "jq", "q", "", "Filter the JSON answer with a jq `expression`")
	fl.BoolVar(&opts.Silent, "silent", false, "Do not print the answer's body")
	return cmd
}

// parseArgs validates arguments and flag combinations.
func (o *Options) parseArgs(args []string) error {
	if len(args) == 2 {
		if o.methodSet {
			return cmdutil.FlagErrorf("the method is given twice (%q as an argument and -X %s): use one", args[0], o.Method)
		}
		o.Method, o.Path = args[0], args[1]
	} else {
		o.Path = args[0]
	}
	if o.Method != "" {
		o.Method = strings.ToUpper(o.Method)
		if strings.ContainsAny(o.Method, " /:") {
			return cmdutil.FlagErrorf("invalid method %q", o.Method)
		}
	}
	if o.Path == "" {
		return cmdutil.FlagErrorf("the path is empty")
	}
	if o.Method == "" {
		o.Method = http.MethodGet
		if !o.Paginate && (len(o.RawFields)+len(o.TypedFields) > 0 || o.Input != "") {
			o.Method = http.MethodPost
		}
	}
	if o.Paginate && o.Method != http.MethodGet {
		return cmdutil.FlagErrorf("--paginate works only with GET (the method is %s)", o.Method)
	}
	if o.Silent && o.JQ != "" {
		return cmdutil.FlagErrorf("--silent and --jq cannot be combined: --silent prints nothing")
	}
	stdinUsers := 0
	if o.Input == "-" {
		stdinUsers++
	}
	for _, f := range o.TypedFields {
		if _, v, _ := strings.Cut(f, "="); v == "@-" {
			stdinUsers++
		}
	}
	if stdinUsers > 1 {
		return cmdutil.FlagErrorf("standard input can be read only once (--input - and -F key=@- are used together)")
	}
	for _, f := range append(append([]string{}, o.RawFields...), o.TypedFields...) {
		if k, _, ok := strings.Cut(f, "="); !ok || k == "" {
			return cmdutil.FlagErrorf("field %q is not key=value", f)
		}
	}
	for _, h := range o.Headers {
		if k, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(k) == "" {
			return cmdutil.FlagErrorf("header %q is not \"Key: value\"", h)
		}
	}
	if o.JQ != "" {
		q, err := gojq.Parse(o.JQ)
		if err != nil {
			return cmdutil.FlagErrorf("--jq: %v", err)
		}
		if o.jq, err = gojq.Compile(q); err != nil {
			return cmdutil.FlagErrorf("--jq: %v", err)
		}
	}
	return nil
}

// field is one -f or -F after reading files.
type field struct {
	key   string
	value any    // string, or a JSON literal for -F
	file  string // the file name when the value came from @path
}

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
			// A value typed or piped in ends with a line break that is not
			// part of it.
			fd.value = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
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

// buildRequest returns the request for the given base URL (scheme://host
// of the profile).
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
			q.Add(f.key, formString(f.value))
		}
	case len(fields) == 0:
	case strings.Contains(strings.ToLower(hdr.Get("Content-Type")), "json"):
		obj := map[string]any{}
		for _, f := range fields {
			if prev, ok := obj[f.key]; ok {
				if arr, ok := prev.([]any); ok {
					obj[f.key] = append(arr, f.value)
				} else {
					obj[f.key] = []any{prev, f.value}
				}
			} else {
				obj[f.key] = f.value
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

// Run performs the request and prints the answer.
func Run(ctx context.Context, o *Options) error {
	s, err := o.OpenSession(ctx)
	if err != nil {
		return err
	}
	src, err := s.UserSource()
	if err != nil {
		return err
	}
	hc := s.Client.Session(src).HTTPClient()

	var pages []map[string]json.RawMessage
	extra := url.Values{}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		req, err := o.buildRequest(ctx, s.Profile.Server, extra)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return s.Explain(unwrapURL(err))
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		if o.Include {
			writeHead(o.IO.Out, resp)
		}
		ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
		if !ok {
			// The error body is printed as is (not through --jq, which
			// expects the success shape); the error line says what it is.
			if o.jq == nil {
				if err := o.printBody(resp.Header.Get("Content-Type"), body); err != nil {
					return err
				}
			}
			return s.Explain(statusError(s, resp, body))
		}
		if !o.Paginate {
			return o.printBody(resp.Header.Get("Content-Type"), body)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return o.printBody(resp.Header.Get("Content-Type"), body) // not a page: print as is
		}
		pages = append(pages, obj)
		var next string
		_ = json.Unmarshal(obj["nextPageToken"], &next)
		if next == "" || seen[next] || page >= maxPages {
			break
		}
		seen[next] = true
		extra.Set("pageToken", next)
	}
	merged, err := merge(pages)
	if err != nil {
		return err
	}
	return o.printBody("application/json", merged)
}

// maxPages bounds --paginate against a server that never stops.
const maxPages = 10000

// merge joins pages: the first page's fields, every page's items, and no
// nextPageToken.
func merge(pages []map[string]json.RawMessage) ([]byte, error) {
	out := pages[0]
	var all []json.RawMessage
	for _, p := range pages {
		var items []json.RawMessage
		if err := json.Unmarshal(p["items"], &items); err != nil && p["items"] != nil {
			return nil, fmt.Errorf("--paginate: a page's items is not a list: %v", err)
		}
		all = append(all, items...)
	}
	if all == nil {
		all = []json.RawMessage{}
	}
	b, _ := json.Marshal(all)
	out["items"] = b
	delete(out, "nextPageToken")
	return json.Marshal(out)
}

// unwrapURL removes the *url.Error layer so that client's sentinels are
// matched and the URL is not repeated.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// statusError is the error of a non-2xx answer: the server's code and
// description, or its status.
func statusError(s *cmdutil.Session, resp *http.Response, body []byte) error {
	e := &client.APIError{StatusCode: resp.StatusCode}
	var v struct {
		Error            any    `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &v) == nil {
		if c, ok := v.Error.(string); ok {
			e.Code = c
		}
		e.Description = v.ErrorDescription
	}
	if resp.StatusCode == http.StatusUnauthorized && s.EnvToken() != "" {
		return fmt.Errorf("the server refused the token in %s (%s): set a valid one, or unset it to use the stored login", keystore.EnvToken, strings.TrimPrefix(e.Error(), "paragon: "))
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return &cmdutil.AuthError{Err: fmt.Errorf("the server refused the token even after a refresh (%s)", strings.TrimPrefix(e.Error(), "paragon: ")), Hint: s.Cmd("login")}
	}
	return errors.New("the server answered " + strings.TrimPrefix(e.Error(), "paragon: "))
}

func writeHead(w io.Writer, resp *http.Response) {
	proto := resp.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	fmt.Fprintf(w, "%s %s\n", proto, resp.Status)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintln(w)
}

// printBody prints the answer: through --jq, pretty on a terminal, or raw.
func (o *Options) printBody(contentType string, body []byte) error {
	if o.Silent || len(body) == 0 {
		return nil
	}
	isJSON := strings.Contains(contentType, "json") || json.Valid(body)
	if o.jq != nil {
		if !isJSON {
			return errors.New("--jq: the answer is not JSON")
		}
		return o.runJQ(body)
	}
	if isJSON && o.IO.IsStdoutTTY() {
		return jsoncolor.Write(o.IO.Out, bytes.NewReader(body), "  ", o.IO.ColorScheme())
	}
	_, err := o.IO.Out.Write(body)
	if err == nil && o.IO.IsStdoutTTY() && !bytes.HasSuffix(body, []byte("\n")) {
		fmt.Fprintln(o.IO.Out)
	}
	return err
}

func (o *Options) runJQ(body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("--jq: the answer is not JSON: %v", err)
	}
	iter := o.jq.Run(v)
	for {
		r, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, ok := r.(error); ok {
			var he *gojq.HaltError
			if errors.As(err, &he) && he.Value() == nil {
				return nil
			}
			return fmt.Errorf("--jq: %v", err)
		}
		if s, ok := r.(string); ok {
			fmt.Fprintln(o.IO.Out, s)
			continue
		}
		b, err := gojq.Marshal(r)
		if err != nil {
			return fmt.Errorf("--jq: %v", err)
		}
		if o.IO.IsStdoutTTY() {
			if err := jsoncolor.Write(o.IO.Out, bytes.NewReader(b), "  ", o.IO.ColorScheme()); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(o.IO.Out, "%s\n", b)
	}
}
