// Package api implements `paragon api`: an authorized HTTP call to the
// profile's server, in the spirit of `gh api`. Tokens are added and
// refreshed by package client; this command builds the request from flags
// and prints the answer.
package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/itchyny/gojq"
	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
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
		Use:   "api [METHOD] PATH",
		Short: "Make an authorized request to the Paragon API",
		Long: `Send an HTTP request to the profile's server with its API key and the
logged-in user's token, refreshing the token when it has expired, and print
the answer: pretty and coloured JSON on a terminal, the raw body when piped.

A path without a leading slash is relative to /api/v1/, so "version" means
/api/v1/version. The method is GET, or POST when fields or --input are given
(with --paginate too, which then asks for GET by name); name it with -X or
as the first argument.

Fields: -f key=value adds a string; -F key=value adds a typed value (true,
false, null and numbers become JSON literals) or a file's content: @path,
or @- for standard input, each sent as a file part of a multipart form (@-
as a file named "stdin"). For GET and HEAD the fields go in the query
string (a value from @- without its final line break). Otherwise the body is a form
(application/x-www-form-urlencoded, what the Paragon API reads), multipart
when a field is a file, or a JSON object when you pass
-H "Content-Type: application/json". Repeat a key to send it more than once.

An answer with a status outside 2xx prints the server's error and exits 1;
an expired login exits 4 and says to run paragon login.`,
		Example: `  $ paragon api version
  $ paragon api GET /api/v1/users/all -f maxrecords=10 --jq '.items[].username'
  $ paragon api -X PUT users -f username=dave -f detailtype=3 -f detaildata=s3cret
  $ paragon api PUT documents -F data=@report.pdf -f title=Report -F copies=2
  $ echo 'Hello, printer' | paragon api PUT documents -F data=@- -f title=Hello
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
	fl.StringVarP(&opts.Method, "method", "X", "", "HTTP `METHOD` (default GET, or POST with fields or --input)")
	fl.StringArrayVarP(&opts.RawFields, "raw-field", "f", nil, "Add a string field `KEY=VALUE`")
	fl.StringArrayVarP(&opts.TypedFields, "field", "F", nil, "Add a typed field `KEY=VALUE` (true/false/null/number, @file, @-)")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, "Add a request `HEADER`, such as \"Accept: text/plain\"")
	fl.BoolVarP(&opts.Include, "include", "i", false, "Print the status line and headers before the body")
	fl.StringVar(&opts.Input, "input", "", "Send the content of `FILE` as the body (\"-\" for standard input)")
	fl.BoolVar(&opts.Paginate, "paginate", false, "Follow nextPageToken and merge the pages' items")
	fl.StringVarP(&opts.JQ, "jq", "q", "", "Filter the JSON answer with a jq `EXPRESSION`")
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
		// One rule, --paginate or not: fields or --input make it POST.
		o.Method = http.MethodGet
		if len(o.RawFields)+len(o.TypedFields) > 0 || o.Input != "" {
			if o.Paginate {
				return cmdutil.FlagErrorf("--paginate works only with GET, and fields make the method POST: name it, as in paragon api GET %s --paginate -f ... (the fields then go in the query string)", o.Path)
			}
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
	// A JSON document ends with a line break, piped or not, like the
	// server's own answers.
	return o.printBody("application/json", append(merged, '\n'))
}
