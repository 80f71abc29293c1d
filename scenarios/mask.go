package scenarios

import (
	"fmt"
	"net/http"
	"strings"

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
// secret.
func (r *scenarioRun) maskIfSecret(name, v string) { r.mask.Add(v) }
