// Package redact is the one place that knows what a secret looks like and
// how to hide it: the names of secret fields and headers, the forms in which
// a server may quote a secret value (plain, JSON-escaped, percent-encoded),
// and the mask that replaces them. The --debug trace (client.DebugTransport),
// the client's error messages, scenario reports and the scenario command all
// mask through it, so a secret hidden in one place is hidden in all of them,
// the same way.
//
// A secret is recognised by its name, whatever its case or its separators
// (access_token, accessToken and Access-Token are the same name):
//
//   - headers ([Header]): Authorization, Proxy-Authorization, Cookie,
//     Set-Cookie, and any header whose name mentions a token, secret,
//     password, signature (HCP-Request-Signature), API key or session;
//   - form, query and JSON fields ([Name]): password, passwd, pwd, pin, key,
//     any name ending in token or tokens (refresh_token, id_token, token,
//     ...) except token_type and the paging tokens pageToken and
//     nextPageToken, any name mentioning secret, password, signature, API key
//     or private key (client_secret, private_key), device_code, user_code,
//     card_id and short_id; in a form or query ([Query], [Form]) also userid
//     when authtype is not 0 (a card or short ID is a credential) and the
//     detaildata of every user detail but full name and email.
//
// Every value masked so is noted in a [Set], which then masks it wherever
// else it appears, in every encoding ([Forms]).
package redact

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Mask replaces every secret.
const Mask = "[redacted]"

// MinLen is the length of the shortest value a [Set] masks wherever it
// appears. A value is masked by what it is (a token, a password, a key, a
// signature, a variable whose name looks secret), and a short one such as
// a 5-letter user name, a number or the word Bearer would mask unrelated
// text: such values are masked only where they stand (a password field, an
// Authorization header), never searched for elsewhere. See [Maskable].
const MinLen = 8

// commonValues are words of the protocols that a secret field may hold
// but that are no secret anywhere.
var commonValues = map[string]bool{
	"bearer": true, "basic": true, "digest": true, "true": true, "false": true, "null": true,
	"undefined": true, "password": true, "username": true, "localhost": true,
	"application/json": true, "application/x-www-form-urlencoded": true,
}

// Maskable reports whether a [Set] takes v as a mask: at least MinLen
// characters (spaces aside), not a number, not a common word of the
// protocols (Bearer, application/json).
func Maskable(v string) bool {
	t := strings.TrimSpace(v)
	if len(t) < MinLen || commonValues[strings.ToLower(t)] {
		return false
	}
	_, err := strconv.ParseFloat(t, 64)
	return err != nil
}

// VarName reports whether a variable of this name holds a secret: a field
// name that [Name] calls secret (PARAGON_PASSWORD, api_key, DB_TOKEN,
// client_secret), or one ending in key, pass, pw, pin or credentials
// (SIGNING_KEY, QA_PASS). QA_USER or BASE_URL are not.
func VarName(name string) bool {
	if Name(name) {
		return true
	}
	n := NormName(name)
	for _, suffix := range []string{"key", "keys", "pass", "pw", "pin", "credential", "credentials", "cred", "creds"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// NormName lower-cases a field or header name and drops the separators, so
// that refresh_token, refreshToken and Refresh-Token compare equal.
func NormName(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return unicode.ToLower(r)
	}, name)
}

// Name reports whether a form, query or JSON field of this name holds a
// secret (see the package documentation).
func Name(name string) bool {
	n := NormName(name)
	switch n {
	case "tokentype", "pagetoken", "nextpagetoken":
		return false
	case "password", "passwd", "pwd", "pin", "key", "devicecode", "usercode", "cardid", "shortid", "authorization":
		return true
	}
	for _, part := range []string{"secret", "password", "signature", "apikey", "privatekey"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return strings.HasSuffix(n, "token") || strings.HasSuffix(n, "tokens")
}

// Header reports whether a header's whole value is a secret.
func Header(name string) bool {
	n := NormName(name)
	for _, part := range []string{"authorization", "cookie", "token", "secret", "password", "signature", "apikey", "session"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// urlHeaders hold a URL whose query or fragment may carry secrets.
var urlHeaders = map[string]bool{"location": true, "contentlocation": true, "referer": true}

// HeaderValue returns the value of header name as it may be shown: a secret
// header's credentials masked (an auth scheme such as "Bearer" is kept), the
// secret query fields of a URL header (Location, Content-Location, Referer)
// masked, other values unchanged. Masked values are noted in s.
func HeaderValue(name, v string, s *Set) string {
	switch {
	case Header(name):
		if scheme, rest, ok := strings.Cut(v, " "); ok && !strings.ContainsAny(scheme, "=;,") {
			s.Add(rest)
			return scheme + " " + Mask
		}
		s.Add(v)
		return Mask
	case urlHeaders[NormName(name)]:
		u, err := url.Parse(v)
		if err != nil {
			return Mask
		}
		return URL(u, s)
	}
	return v
}

// MentionsSecret reports whether a text mentions a secret's name ("token",
// "password", "Bearer", ...), so that it is better not shown at all.
func MentionsSecret(text []byte) bool {
	n := []byte(NormName(string(text)))
	for _, w := range []string{"token", "secret", "password", "passwd", "signature", "apikey", "privatekey", "devicecode", "bearer", "cookie"} {
		if bytes.Contains(n, []byte(w)) {
			return true
		}
	}
	return false
}

// URL returns u as a string with its secret query fields masked and any
// user info removed (its password noted in s). A fragment of the form
// "name=value&..." (as in OAuth implicit redirects) is treated like a query.
func URL(u *url.URL, s *Set) string {
	c := *u
	if p, ok := c.User.Password(); ok {
		s.Add(p)
	}
	c.User = nil
	c.RawQuery = Query(c.RawQuery, s)
	frag := c.EscapedFragment()
	c.Fragment, c.RawFragment = "", ""
	out := c.String()
	if frag != "" {
		if strings.Contains(frag, "=") {
			frag = Query(frag, s)
		}
		out += "#" + frag
	}
	return out
}

// Query masks the values of the secret fields of an encoded query or form
// body, keeping the fields in their order and the others as they were
// written, and notes the masked values in s. A text that does not parse as
// a query is masked whole.
func Query(raw string, s *Set) string {
	if raw == "" {
		return ""
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return Mask
	}
	parts := strings.Split(raw, "&")
	seen := map[string]int{}
	for i, p := range parts {
		if p == "" {
			continue
		}
		rk, rv, _ := strings.Cut(p, "=")
		k, err1 := url.QueryUnescape(rk)
		val, err2 := url.QueryUnescape(rv)
		if err1 != nil || err2 != nil {
			return Mask // cannot happen after ParseQuery; be safe
		}
		n := seen[k]
		seen[k]++
		if secretField(v, k, n) {
			s.Add(val)
			parts[i] = rk + "=" + Mask
		}
	}
	return strings.Join(parts, "&")
}

// Form masks the secret fields of a decoded form in place, noting their
// values in s.
func Form(v url.Values, s *Set) {
	for k, vs := range v {
		for i := range vs {
			if secretField(v, k, i) {
				s.Add(vs[i])
				vs[i] = Mask
			}
		}
	}
}

// secretField reports whether the i-th value of field k of form v is a
// secret: by its name, a userid when authtype is not 0, or the detaildata of
// a user detail other than full name (0) and email (1).
func secretField(v url.Values, k string, i int) bool {
	switch {
	case Name(k):
		return true
	case k == "userid":
		at := v.Get("authtype")
		return at != "" && at != "0"
	case k == "detaildata":
		types := v["detailtype"]
		return i >= len(types) || (types[i] != "0" && types[i] != "1") // unpaired: cannot tell, so mask
	}
	return false
}

// JSON masks in place the secret fields of a decoded JSON value, at any
// depth, noting their values in s; it returns v.
func JSON(v any, s *Set) any { return walkJSON(v, s, true) }

// walkJSON notes (and with mask, masks) the secret fields of v. A secret
// name whose value is an object is looked into rather than masked whole.
func walkJSON(v any, s *Set, mask bool) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if _, isObj := val.(map[string]any); !isObj && Name(k) {
				s.AddJSON(val)
				if mask {
					x[k] = Mask
				}
				continue
			}
			if r := walkJSON(val, s, mask); mask {
				x[k] = r
			}
		}
	case []any:
		for i := range x {
			if r := walkJSON(x[i], s, mask); mask {
				x[i] = r
			}
		}
	}
	return v
}

// Set collects secret values so that they are masked wherever they appear,
// in every form [Forms] lists. The zero Set is empty and ready; a nil *Set
// collects nothing and masks nothing. A Set is not safe for concurrent use.
type Set struct {
	vals  []string            // longest first, so a secret containing another is masked whole
	forms map[string][]string // each value's forms, computed once
}

// Add notes a secret value; values that are not [Maskable] (short, a
// number, a common word) are ignored.
func (s *Set) Add(v string) {
	if s == nil || !Maskable(v) {
		return
	}
	if _, ok := s.forms[v]; ok {
		return
	}
	if s.forms == nil {
		s.forms = map[string][]string{}
	}
	s.forms[v] = Forms(v)
	i, _ := slices.BinarySearchFunc(s.vals, v, func(a, b string) int { return len(b) - len(a) })
	s.vals = slices.Insert(s.vals, i, v)
}

// AddJSON notes the strings of a decoded JSON value: a string, or arrays
// of them.
func (s *Set) AddJSON(v any) {
	switch x := v.(type) {
	case string:
		s.Add(x)
	case []any:
		for _, e := range x {
			s.AddJSON(e)
		}
	}
}

// AddFieldsIn notes the values of the secret fields of a decoded JSON value
// (see [JSON]) without changing it.
func (s *Set) AddFieldsIn(v any) { walkJSON(v, s, false) }

// Values returns the values noted, longest first.
func (s *Set) Values() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.vals)
}

// Scrub masks every noted value in text, in each of its forms, longest
// value first.
func (s *Set) Scrub(text string) string {
	if s == nil {
		return text
	}
	for _, v := range s.vals {
		for _, f := range s.forms[v] {
			text = strings.ReplaceAll(text, f, Mask)
		}
	}
	return text
}

// Forms lists the forms in which a server may quote v: as it is,
// JSON-escaped (with or without the HTML escapes \u003c..., / also as \/)
// and URL-encoded (+ or %20 for a space, upper- or lower-case hex).
func Forms(v string) []string {
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
