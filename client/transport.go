package client

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Transport is an http.RoundTripper that authorizes requests: it adds
// X-Api-Key and Authorization: Bearer <token from Source> to a clone of each
// request (the caller's request is never modified), and when a request that
// carried a token is answered 401, or 403 for a reason that may be the token
// (see below), it forces one refresh ([Refresher]) and retries once, if the
// body can be replayed (no body, or GetBody set, as http.NewRequest does for
// bytes and strings readers).
//
// A 403 whose JSON error code says the token is fine but the caller may not
// do this (forbidden, permission_denied, insufficient_scope,
// invalid_api_key, key_mismatch) is returned as is: refreshing would not
// help and would rotate the refresh token for nothing. Any other 403 (a real
// server may answer 403 to an expired token) is treated like a 401.
//
// A failed refresh is returned as the RoundTrip error (e.g. wrapping
// [ErrLoginRequired]). Transport is safe for concurrent use.
type Transport struct {
	// Base performs the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// APIKey is sent as X-Api-Key unless the request already has one.
	APIKey string
	// Source supplies the bearer token; nil sends none. A request that
	// already has an Authorization header is sent as is.
	Source TokenSource
	// UserAgent, if set, is sent as User-Agent unless the request has one.
	UserAgent string
	// Hosts, if non-empty, limits credentials to requests whose URL host
	// (host[:port], as in the URL) is in the list, so that a redirect to
	// another host does not leak them.
	Hosts []string
}

// notTokenProblem lists 403 codes that refreshing cannot cure.
var notTokenProblem = map[string]bool{
	"forbidden":          true,
	"permission_denied":  true,
	"insufficient_scope": true,
	"invalid_api_key":    true,
	"key_mismatch":       true,
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if !t.allowed(req) {
		return base.RoundTrip(req)
	}
	ctx := req.Context()
	r := t.prepare(req)
	var tok *Token
	if t.Source != nil && r.Header.Get("Authorization") == "" {
		var err error
		if tok, err = t.Source.Token(ctx); err != nil {
			closeBody(req)
			return nil, err
		}
		r.Header.Set("Authorization", tok.Type()+" "+tok.AccessToken)
	}
	resp, err := base.RoundTrip(r)
	if err != nil || tok == nil {
		return withRequest(resp, r), err
	}
	withRequest(resp, r)
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return resp, nil
	}
	rf, ok := t.Source.(Refresher)
	if !ok || !replayable(req) {
		return resp, nil
	}
	if resp.StatusCode == http.StatusForbidden && notTokenProblem[peekErrorCode(resp)] {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()

	fresh, err := rf.ForceRefresh(ctx, tok)
	if err != nil {
		return nil, err
	}
	r2 := t.prepare(req)
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if r2.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	r2.Header.Set("Authorization", fresh.Type()+" "+fresh.AccessToken)
	resp, err = base.RoundTrip(r2)
	return withRequest(resp, r2), err
}

// withRequest sets resp.Request to the request as sent (with its
// credentials, so that an error answer quoting them can be masked) when the
// base transport left it unset, as mocks do.
func withRequest(resp *http.Response, sent *http.Request) *http.Response {
	if resp != nil && resp.Request == nil {
		resp.Request = sent
	}
	return resp
}

// prepare returns a clone of req with the API key and User-Agent added.
func (t *Transport) prepare(req *http.Request) *http.Request {
	r := req.Clone(req.Context())
	if t.APIKey != "" && r.Header.Get("X-Api-Key") == "" {
		r.Header.Set("X-Api-Key", t.APIKey)
	}
	if t.UserAgent != "" && r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", t.UserAgent)
	}
	return r
}

func (t *Transport) allowed(req *http.Request) bool {
	if len(t.Hosts) == 0 {
		return true
	}
	for _, h := range t.Hosts {
		if strings.EqualFold(h, req.URL.Host) {
			return true
		}
	}
	return false
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// peekErrorCode reads the start of resp's body for a JSON "error" code (or
// the WWW-Authenticate error) and puts the bytes back.
func peekErrorCode(resp *http.Response) string {
	if c := bearerErrorCode(resp.Header.Get("WWW-Authenticate")); c != "" {
		return c
	}
	peek, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(peek), resp.Body), c: resp.Body}
	var v struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(peek, &v)
	return v.Error
}

type prefixedBody struct {
	io.Reader
	c io.Closer
}

func (p *prefixedBody) Close() error { return p.c.Close() }
