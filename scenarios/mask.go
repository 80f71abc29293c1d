package scenarios

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/theory/jsonpath/spec"

	"github.com/paragon-cli/paragon/internal/redact"
)

// Reports show every exchange of a failing step with its secrets masked
// through internal/redact, the one place that knows what a secret looks
// like: a scenario's redact.Set collects the values (the target's keys,
// passwords, tokens the server hands out, signatures, environment
// variables), and secret headers and form fields are masked by name.

const maxShownBody = 2048

// render turns an exchange into report text with every secret masked:
// secret headers and form fields by name, and every value mask holds
// wherever it appears.
func render(ex *exchange, mask *redact.Set) *Exchange {
	if ex == nil || ex.req == nil {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", ex.req.Method, redact.URL(ex.req.URL, mask))
	writeHeaders(&b, mask, ex.req.Header)
	if len(ex.reqBody) > 0 {
		body := string(ex.reqBody)
		if strings.HasPrefix(ex.req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			if q := redact.Query(body, mask); q != redact.Mask {
				body = q
			}
		}
		b.WriteString("\n")
		b.WriteString(shownBody(mask, body))
		b.WriteString("\n")
	}
	out := &Exchange{Request: mask.Scrub(b.String())}
	if ex.header == nil {
		return out
	}
	b.Reset()
	fmt.Fprintf(&b, "HTTP %d %s\n", ex.status, http.StatusText(ex.status))
	writeHeaders(&b, mask, ex.header)
	if len(ex.body) > 0 {
		b.WriteString("\n")
		b.WriteString(shownBody(mask, string(ex.body)))
		b.WriteString("\n")
	}
	out.Response = mask.Scrub(b.String())
	return out
}

// shownBody is a body as reports show it: masked, then cut to maxShownBody
// bytes (in that order, so that no secret is cut in two and half shown).
func shownBody(mask *redact.Set, b string) string {
	s := mask.Scrub(b)
	if len(s) > maxShownBody {
		return s[:maxShownBody] + fmt.Sprintf("\n… (%d more bytes)", len(s)-maxShownBody)
	}
	return s
}

func writeHeaders(b *strings.Builder, mask *redact.Set, h http.Header) {
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			name := k
			if strings.EqualFold(k, signatureHeader) {
				name = signatureHeader // as the contract spells it
			}
			fmt.Fprintf(b, "%s: %s\n", name, redact.HeaderValue(k, v, mask))
		}
	}
}

// maskIfSecret notes the value of the environment variable name as a
// secret when the name looks like a secret's (PARAGON_PASSWORD, API_KEY,
// DB_TOKEN; see redact.VarName): QA_USER=alice masks nothing.
func (r *scenarioRun) maskIfSecret(name, v string) {
	if redact.VarName(name) {
		r.mask.Add(v)
	}
}

// maskCapture notes a captured value as a secret when it is one by what it
// is: the field the JSON path names looks secret ($.token.access_token,
// $.password), the header is a credential (Authorization: its credentials,
// not the scheme), or the variable's name looks secret (capture: {api_key:
// $.x}). A value that is short, a number or a common word is never a mask
// (redact.Maskable): capturing token_type or expires_in masks nothing.
func (r *scenarioRun) maskCapture(c Capture, val any) {
	secret := redact.VarName(c.Var)
	switch c.From {
	case "header":
		if redact.Header(c.Path) {
			if s, ok := val.(string); ok {
				redact.HeaderValue(c.Path, s, r.mask) // notes the credentials, not the scheme
			}
			secret = false
		}
	case "json":
		if !secret {
			if p, err := pathOf(c.path, c.Path); err == nil {
				secret = redact.Name(p.lastName())
			}
		}
	}
	if secret {
		r.mask.AddJSON(val)
	}
}

// lastPathName is the name of the field a JSON path ends at (see
// jsonPath.lastName); "" for a bad path.
func lastPathName(p string) string {
	jp, err := compileJSONPath(p)
	if err != nil {
		return ""
	}
	return jp.lastName()
}

// lastName is the name of the field the path ends at: access_token for
// $.token.access_token, $['access_token'] or $.tokens[0].access_token;
// tokens for $.tokens[0] (an item of tokens); "" for $.
func (p *jsonPath) lastName() string {
	segs := p.path.Query().Segments()
	for i := len(segs) - 1; i >= 0; i-- {
		for _, sel := range segs[i].Selectors() {
			if n, ok := sel.(spec.Name); ok {
				return string(n)
			}
		}
	}
	return ""
}
