package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/itchyny/gojq"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/jsoncolor"
	"github.com/paragon-cli/paragon/keystore"
)

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
	// The description is shown with the secrets the request carried masked:
	// a server may quote the API key or the token it refuses.
	e := s.Client.AnswerError(resp, body)
	if resp.StatusCode == http.StatusUnauthorized && s.EnvToken() != "" {
		return fmt.Errorf("the server refused the token in %s (%s): set a valid one, or unset it to use the stored login", keystore.EnvToken, strings.TrimPrefix(e.Error(), "paragon: "))
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return &cmdutil.AuthError{Err: fmt.Errorf("the server refused the token even after a refresh (%s)", strings.TrimPrefix(e.Error(), "paragon: ")), Hint: s.Cmd("login")}
	}
	return e // Session.Explain says what it means ("the server answered …")
}

// writeHead prints the status line and the headers, sorted (-i).
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

// runJQ prints each result of --jq: strings raw, other values as JSON.
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
			// The message may quote the answer: its tokens stay masked.
			return errors.New("--jq: " + client.ScrubAnswerSecrets(err.Error(), body))
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
