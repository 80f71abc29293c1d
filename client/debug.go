package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paragon-cli/paragon/internal/redact"
)

// Mask replaces every secret in DebugTransport's output.
const Mask = redact.Mask

// DebugTransport is an http.RoundTripper that logs each request and answer
// to Log (method, URL, status, headers, text bodies) with every secret
// masked as [Mask]: credentials headers and any header, form, query or JSON
// field named like a token, secret, password, signature, API key, private
// key, device code, card or short ID, whatever its case or separators (the
// full list is the package documentation of internal/redact in this
// repository), and every value masked so wherever else it appears in the
// exchange, plain or encoded. Multipart and oversized bodies are
// summarized, never dumped. Requests are not modified; it is safe for
// concurrent use, and writes each exchange with one Write call.
type DebugTransport struct {
	// Base performs the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Log receives the text; nil discards it.
	Log io.Writer
	// MaxBody bounds each logged body; zero means 4096 bytes.
	MaxBody int

	mu sync.Mutex
}

// secretsKey is the context key of [WithSecrets].
type secretsKey struct{}

// WithSecrets returns a copy of ctx whose requests DebugTransport traces
// with values masked wherever they appear (plain, URL-encoded or
// JSON-escaped), whatever field or header carries them: secrets the caller
// knows by their origin (an environment variable, say) rather than by a
// field name.
func WithSecrets(ctx context.Context, values ...string) context.Context {
	prev := secretsIn(ctx)
	return context.WithValue(ctx, secretsKey{}, append(slices.Clip(prev), values...))
}

func secretsIn(ctx context.Context) []string {
	v, _ := ctx.Value(secretsKey{}).([]string)
	return v
}

// RoundTrip implements http.RoundTripper.
func (t *DebugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Log == nil {
		return base.RoundTrip(req)
	}
	var b strings.Builder
	sv := &redact.Set{}
	for _, v := range secretsIn(req.Context()) {
		sv.Add(v)
	}
	fmt.Fprintf(&b, "> %s %s\n", req.Method, redact.URL(req.URL, sv))
	writeHeaders(&b, "> ", req.Header, sv)
	if req.Body != nil && req.Body != http.NoBody {
		body, err := t.readRequestBody(req)
		if err != nil {
			return nil, err
		}
		b.WriteString(t.redactBody(req.Header.Get("Content-Type"), body, sv))
		// Log through a clone so the caller's request keeps its body.
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		req = r
	}
	start := time.Now()
	resp, err := base.RoundTrip(req)
	if err != nil {
		fmt.Fprintf(&b, "< error after %s: %v\n", time.Since(start).Round(time.Millisecond), scrubURLError(err))
		t.write(sv.Scrub(b.String()))
		return nil, err
	}
	fmt.Fprintf(&b, "< %s (%s)\n", resp.Status, time.Since(start).Round(time.Millisecond))
	writeHeaders(&b, "< ", resp.Header, sv)
	if resp.Body != nil && resp.Body != http.NoBody {
		limit := int64(t.maxBody())
		peek, _ := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(peek), resp.Body), c: resp.Body}
		b.WriteString(t.redactBody(resp.Header.Get("Content-Type"), peek, sv))
	}
	t.write(sv.Scrub(b.String()))
	return resp, nil
}

func (t *DebugTransport) maxBody() int {
	if t.MaxBody > 0 {
		return t.MaxBody
	}
	return 4096
}

func (t *DebugTransport) write(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = io.WriteString(t.Log, s)
}

// readRequestBody returns the request body without consuming the caller's
// copy when GetBody can supply another.
func (t *DebugTransport) readRequestBody(req *http.Request) ([]byte, error) {
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err == nil {
			defer rc.Close()
			return io.ReadAll(rc)
		}
	}
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

func writeHeaders(b *strings.Builder, prefix string, h http.Header, sv *redact.Set) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, redact.HeaderValue(k, v, sv))
		}
	}
}

// RedactURL returns u as a string with secret query parameters masked (see
// [DebugTransport]) and any user info removed. A fragment of the form
// "name=value&..." (as in OAuth implicit redirects) is treated like a query.
func RedactURL(u *url.URL) string { return redact.URL(u, nil) }

// redactBody renders a body for the log with its secrets masked.
func (t *DebugTransport) redactBody(contentType string, body []byte, sv *redact.Set) string {
	if len(body) == 0 {
		return ""
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	truncated := ""
	if len(body) > t.maxBody() {
		truncated = fmt.Sprintf(" [truncated, first %d bytes]", t.maxBody())
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		if truncated != "" {
			return fmt.Sprintf("  [form body, %d+ bytes, not shown]\n", len(body))
		}
		if _, err := url.ParseQuery(string(body)); err != nil {
			return fmt.Sprintf("  [unparsable form body, %d bytes]\n", len(body))
		}
		return "  " + redact.Query(string(body), sv) + "\n"
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || (mt == "" && json.Valid(body)):
		if truncated != "" {
			return fmt.Sprintf("  [JSON body, %d+ bytes, not shown]\n", len(body))
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Sprintf("  [unparsable JSON body, %d bytes]\n", len(body))
		}
		out, _ := json.Marshal(redact.JSON(v, sv))
		return "  " + string(out) + "\n"
	case strings.HasPrefix(mt, "multipart/"):
		return fmt.Sprintf("  [multipart body, %d bytes, not shown]\n", len(body))
	case strings.HasPrefix(mt, "text/") && !redact.MentionsSecret(body):
		return "  " + string(body[:min(len(body), t.maxBody())]) + truncated + "\n"
	default:
		return fmt.Sprintf("  [%s body, %d bytes, not shown]\n", mt, len(body))
	}
}

// ScrubAnswerSecrets masks in text (an error message about body, say) the
// values of body's secret JSON fields (see [DebugTransport]) in every
// encoding, also when text quotes one cut short and followed by " ..."
// (as gojq's errors abbreviate long values). text is returned unchanged
// when body is not JSON.
func ScrubAnswerSecrets(text string, body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return text
	}
	sv := &redact.Set{}
	sv.AddFieldsIn(v)
	text = sv.Scrub(text)
	for _, s := range sv.Values() {
		for n := len(s) - 1; n >= redact.MinLen; n-- {
			text = strings.ReplaceAll(text, s[:n]+" ...", Mask+" ...")
		}
	}
	return text
}
