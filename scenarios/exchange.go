package scenarios

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/client"
)

// exchange is one HTTP request and its answer.
type exchange struct {
	req      *http.Request
	reqBody  []byte
	status   int
	header   http.Header
	body     []byte
	duration time.Duration

	parsed  bool
	json    any
	jsonErr error
}

// parsedJSON decodes the body once; numbers stay json.Number.
func (ex *exchange) parsedJSON() (any, error) {
	if !ex.parsed {
		ex.parsed = true
		dec := json.NewDecoder(bytes.NewReader(ex.body))
		dec.UseNumber()
		ex.jsonErr = dec.Decode(&ex.json)
	}
	return ex.json, ex.jsonErr
}

// jsonString returns the string at the given object keys.
func (ex *exchange) jsonString(keys ...string) (string, bool) {
	v, err := ex.parsedJSON()
	if err != nil {
		return "", false
	}
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v = m[k]
	}
	s, ok := v.(string)
	return s, ok
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// apiKeyOr returns the API key to send: the target's unless p overrides it.
func (r *scenarioRun) apiKeyOr(p *string) string {
	if p == nil {
		return r.t.apiKey
	}
	r.mask.Add(*p)
	return *p
}

// setAPIKey sets X-Api-Key: the target's key, p's value, or none for
// "none".
func (r *scenarioRun) setAPIKey(req *http.Request, p *string) {
	k := r.apiKeyOr(p)
	if k == "none" || k == "" {
		return
	}
	req.Header.Set("X-Api-Key", k)
}

// bearerFor resolves a call's as/token to a bearer token ("" for none).
func (r *scenarioRun) bearerFor(as string, tok *string) (string, error) {
	if tok != nil {
		return *tok, nil
	}
	switch {
	case as == "" || as == "nobody":
		return "", nil
	case strings.HasPrefix(as, "device:"):
		alias := strings.TrimPrefix(as, "device:")
		d, ok := r.devices[alias]
		if !ok || d.accessToken == "" {
			return "", fmt.Errorf("device %q has no device token yet", alias)
		}
		return d.accessToken, nil
	}
	s, ok := r.sessions[as]
	if !ok || s.accessToken == "" {
		return "", fmt.Errorf("no session %q: log in first (login: {user: ..., as: %s})", as, as)
	}
	return s.accessToken, nil
}

// do sends req and reads the answer; every token in it becomes a secret.
func (r *scenarioRun) do(req *http.Request, body []byte) (*exchange, error) {
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	for _, v := range req.Header.Values("Authorization") {
		r.mask.Add(strings.TrimPrefix(v, "Bearer "))
	}
	if json.Valid(body) { // secret fields of a JSON request body
		var v any
		_ = json.Unmarshal(body, &v)
		r.mask.AddFieldsIn(v)
	}
	// A --debug trace masks by field name; the run's secrets (environment
	// variables in any field included) are masked there too.
	req = req.WithContext(client.WithSecrets(req.Context(), r.mask.Values()...))
	start := time.Now()
	resp, err := r.t.client.Do(req)
	if err != nil {
		r.last = &exchange{req: req, reqBody: body}
		return nil, fmt.Errorf("%s %s: %v", req.Method, req.URL.Path, r.mask.Scrub(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	ex := &exchange{req: req, reqBody: body, status: resp.StatusCode, header: resp.Header, body: data, duration: time.Since(start)}
	r.last = ex
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %v", req.Method, req.URL.Path, err)
	}
	if v, err := ex.parsedJSON(); err == nil {
		r.mask.AddFieldsIn(v)
	}
	return ex, nil
}

// oauthPost sends a form to the OAuth service, signed as sign says.
func (r *scenarioRun) oauthPost(ctx context.Context, p string, f url.Values, omit []string, extra map[string]FormValue, sign string, key, newKey *deviceKey) (*exchange, error) {
	applyForm(f, omit, extra)
	for _, k := range []string{"client_secret", "device_code", "refresh_token"} {
		r.mask.Add(f.Get(k))
	}
	body := []byte(f.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.t.oauth+p, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sig, err := signature(sign, body, key, newKey)
	if err != nil {
		return nil, err
	}
	if sig != "" {
		r.mask.Add(sig)
		req.Header.Set(signatureHeader, sig)
	}
	return r.do(req, body)
}

// admin calls the admin API with a JSON body (nil for none).
func (r *scenarioRun) admin(ctx context.Context, method, p string, body any) (*exchange, error) {
	if !r.t.caps[NeedAdmin] && !r.t.embedded {
		return nil, fmt.Errorf("the target has no admin API")
	}
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, r.t.admin+p, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.t.adminToken)
	if data != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return r.do(req, data)
}

// advance moves the fake clock.
func (r *scenarioRun) advance(ctx context.Context, d time.Duration) (*exchange, error) {
	return r.admin(ctx, http.MethodPost, "/admin/api/clock", map[string]string{"advance": d.String()})
}

// wait lets d pass: on the fake clock by advancing it, otherwise for real.
func (r *scenarioRun) wait(ctx context.Context, d time.Duration) error {
	if r.t.caps[NeedClock] {
		ex, err := r.advance(ctx, d)
		if err != nil {
			return err
		}
		if ex.status != http.StatusOK {
			return fmt.Errorf("advancing the clock by %s: answer %d", d, ex.status)
		}
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
