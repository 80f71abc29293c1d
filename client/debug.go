package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Mask replaces every secret in DebugTransport's output.
const Mask = "[redacted]"

// DebugTransport is an http.RoundTripper that logs each request and answer
// to Log: method, URL, status, headers and (text) bodies, with every secret
// masked. A secret is recognised by its name, whatever its case or its
// separators (access_token, accessToken and Access-Token are the same name):
//
//   - headers: Authorization, Proxy-Authorization, Cookie, Set-Cookie, and any
//     header whose name mentions a token, secret, password, signature
//     (HCP-Request-Signature), API key or session; the query and fragment of
//     URLs in Location, Content-Location and Referer are masked as below;
//   - form, query and JSON fields (JSON at any depth): password, passwd, pin,
//     key, any name ending in token or tokens (refresh_token, id_token,
//     token, ...) except token_type and the paging tokens pageToken and
//     nextPageToken, any name mentioning secret, password, signature, API
//     key or private key (client_secret, private_key), device_code,
//     user_code, card_id and short_id; userid when authtype is not 0 (a card
//     or short ID is a credential); the detaildata of every user detail but
//     full name and email.
//
// Every value masked so is also masked wherever else it appears in the same
// exchange (an answer echoing the API key under another name, an error
// description quoting the token), plain, URL-encoded or JSON-escaped.
//
// Multipart bodies, bodies too long to parse whole and text bodies that
// mention a secret name are summarized, never dumped. Requests are not
// modified. It is safe for concurrent use; each exchange is written with
// one Write call.
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

// normName lower-cases a field or header name and drops the separators, so
// that refresh_token, refreshToken and Refresh-Token compare equal.
func normName(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return unicode.ToLower(r)
	}, name)
}

// secretName reports whether a form, query or JSON field name names a
// secret (see [DebugTransport]).
func secretName(name string) bool {
	n := normName(name)
	switch n {
	case "tokentype", "pagetoken", "nextpagetoken":
		return false
	case "password", "passwd", "pwd", "pin", "key", "devicecode", "usercode", "cardid", "shortid":
		return true
	}
	for _, part := range []string{"secret", "password", "signature", "apikey", "privatekey"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return strings.HasSuffix(n, "token") || strings.HasSuffix(n, "tokens")
}

// isSecretHeader reports whether a header's whole value is a secret.
func isSecretHeader(k string) bool {
	n := normName(k)
	for _, part := range []string{"authorization", "cookie", "token", "secret", "password", "signature", "apikey", "session"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// urlHeaders hold a URL whose query or fragment may carry secrets.
var urlHeaders = map[string]bool{"location": true, "contentlocation": true, "referer": true}

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
	sv := secretValues{}
	for _, v := range secretsIn(req.Context()) {
		sv.add(v)
	}
	fmt.Fprintf(&b, "> %s %s\n", req.Method, redactURL(req.URL, sv))
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
		t.write(sv.scrub(b.String()))
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
	t.write(sv.scrub(b.String()))
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

func writeHeaders(b *strings.Builder, prefix string, h http.Header, sv secretValues) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			switch {
			case isSecretHeader(k):
				v = redactHeaderValue(v, sv)
			case urlHeaders[normName(k)]:
				v = redactURLString(v, sv)
			}
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, v)
		}
	}
}

// redactHeaderValue keeps an auth scheme name ("Bearer") and masks the rest.
func redactHeaderValue(v string, sv secretValues) string {
	if scheme, rest, ok := strings.Cut(v, " "); ok && !strings.ContainsAny(scheme, "=;,") {
		sv.add(rest)
		return scheme + " " + Mask
	}
	sv.add(v)
	return Mask
}

// RedactURL returns u as a string with secret query parameters masked (see
// [DebugTransport]) and any user info removed. A fragment of the form
// "name=value&..." (as in OAuth implicit redirects) is treated like a query.
func RedactURL(u *url.URL) string { return redactURL(u, nil) }

func redactURL(u *url.URL, sv secretValues) string {
	c := *u
	if p, ok := c.User.Password(); ok {
		sv.add(p)
	}
	c.User = nil
	c.RawQuery = redactQuery(c.RawQuery, sv)
	frag := c.EscapedFragment()
	c.Fragment, c.RawFragment = "", ""
	s := c.String()
	if frag != "" {
		if strings.Contains(frag, "=") {
			frag = redactQuery(frag, sv)
		}
		s += "#" + frag
	}
	return s
}

// redactURLString is RedactURL for a URL in a header value; a value that is
// not a URL is masked whole.
func redactURLString(v string, sv secretValues) string {
	u, err := url.Parse(v)
	if err != nil {
		return Mask
	}
	return redactURL(u, sv)
}

// redactQuery masks the secret fields of an encoded query; one that does not
// parse is masked whole.
func redactQuery(raw string, sv secretValues) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return Mask
	}
	redactForm(q, sv)
	return encodeRedacted(q)
}

// redactForm masks secret fields of a form in place, noting their values
// in sv.
func redactForm(v url.Values, sv secretValues) {
	mask := func(vs []string, i int) {
		sv.add(vs[i])
		vs[i] = Mask
	}
	for k, vs := range v {
		if secretName(k) {
			for i := range vs {
				mask(vs, i)
			}
		}
	}
	if at := v.Get("authtype"); at != "" && at != "0" {
		for i := range v["userid"] {
			mask(v["userid"], i)
		}
	}
	types, data := v["detailtype"], v["detaildata"]
	for i := range data {
		if i < len(types) && (types[i] == "0" || types[i] == "1") {
			continue // full name, email
		}
		mask(data, i) // a credential, or unpaired: cannot tell, so mask
	}
}

// encodeRedacted encodes v like url.Values.Encode but leaves Mask readable.
func encodeRedacted(v url.Values) string {
	return strings.ReplaceAll(v.Encode(), url.QueryEscape(Mask), Mask)
}

// redactBody renders a body for the log with its secrets masked.
func (t *DebugTransport) redactBody(contentType string, body []byte, sv secretValues) string {
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
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return fmt.Sprintf("  [unparsable form body, %d bytes]\n", len(body))
		}
		redactForm(v, sv)
		return "  " + encodeRedacted(v) + "\n"
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || (mt == "" && json.Valid(body)):
		if truncated != "" {
			return fmt.Sprintf("  [JSON body, %d+ bytes, not shown]\n", len(body))
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Sprintf("  [unparsable JSON body, %d bytes]\n", len(body))
		}
		out, _ := json.Marshal(redactJSON(v, sv))
		return "  " + string(out) + "\n"
	case strings.HasPrefix(mt, "multipart/"):
		return fmt.Sprintf("  [multipart body, %d bytes, not shown]\n", len(body))
	case strings.HasPrefix(mt, "text/") && !looksSecret(body):
		return "  " + string(body[:min(len(body), t.maxBody())]) + truncated + "\n"
	default:
		return fmt.Sprintf("  [%s body, %d bytes, not shown]\n", mt, len(body))
	}
}

// looksSecret reports whether a text body mentions a secret's name, in
// which case it is not shown at all.
func looksSecret(body []byte) bool {
	n := []byte(normName(string(body)))
	for _, w := range []string{"token", "secret", "password", "passwd", "signature", "apikey", "privatekey", "devicecode", "bearer", "cookie"} {
		if bytes.Contains(n, []byte(w)) {
			return true
		}
	}
	return false
}

// redactJSON masks the secret fields of a decoded JSON value in place, at
// any depth, noting their values in sv.
func redactJSON(v any, sv secretValues) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if secretName(k) {
				if _, isObj := val.(map[string]any); !isObj {
					sv.addJSON(val)
					x[k] = Mask
					continue
				}
			}
			x[k] = redactJSON(val, sv)
		}
	case []any:
		for i := range x {
			x[i] = redactJSON(x[i], sv)
		}
	}
	return v
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
	sv := secretValues{}
	redactJSON(v, sv)
	text = sv.scrub(text)
	for s := range sv {
		for n := len(s) - 1; n >= minSecretLen; n-- {
			text = strings.ReplaceAll(text, s[:n]+" ...", Mask+" ...")
		}
	}
	return text
}

// secretValues collects the values masked in one exchange, so that they are
// masked wherever else they appear too: an answer that echoes the API key
// in a field of an unknown name, a token quoted in an error description. A
// nil secretValues collects nothing.
type secretValues map[string]bool

// minSecretLen is the shortest value masked wherever it appears; shorter
// ones would mask unrelated text.
const minSecretLen = 4

func (sv secretValues) add(v string) {
	if sv != nil && len(strings.TrimSpace(v)) >= minSecretLen {
		sv[v] = true
	}
}

// addJSON adds the strings of a JSON value (a string, or arrays of them).
func (sv secretValues) addJSON(v any) {
	switch x := v.(type) {
	case string:
		sv.add(x)
	case []any:
		for _, e := range x {
			sv.addJSON(e)
		}
	}
}

// scrub masks every collected value in text, in its plain, URL-encoded and
// JSON-escaped forms, longest first.
func (sv secretValues) scrub(text string) string {
	vals := slices.Collect(maps.Keys(sv))
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	for _, v := range vals {
		for _, form := range secretForms(v) {
			text = strings.ReplaceAll(text, form, Mask)
		}
	}
	return text
}

// secretForms lists the forms in which a server may quote v: as it is,
// JSON-escaped (with or without the HTML escapes \u003c..., / also as \/)
// and URL-encoded (+ or %20 for a space, upper- or lower-case hex).
func secretForms(v string) []string {
	forms := []string{v}
	add := func(f string) {
		if !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	html, _ := json.Marshal(v)
	for _, j := range []string{strings.TrimSpace(plain.String()), string(html)} {
		j = j[1 : len(j)-1]
		add(j)
		add(strings.ReplaceAll(j, "/", `\/`))
	}
	for _, u := range []string{url.QueryEscape(v), url.PathEscape(v)} {
		add(u)
		add(lowerHexEscapes(u))
	}
	return forms
}

// lowerHexEscapes writes the hex digits of every %XX escape in lower case.
func lowerHexEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for k := i + 1; k <= i+2; k++ {
				if b[k] >= 'A' && b[k] <= 'F' {
					b[k] += 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}
