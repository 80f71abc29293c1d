package scenarios

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/internal/redact"
)

// signatureHeader carries a device's signature over the request body.
const signatureHeader = "HCP-Request-Signature"

// deviceKey is a device's key pair as registered.
type deviceKey struct {
	keyType string // ed25519, rsa or x509 (the key_type sent)
	public  string // base64, as sent in public_key
	signer  crypto.Signer
}

// sign returns the base64 signature over body: plain Ed25519, or
// RSASSA-PKCS1-v1_5 with SHA-256 (contract section 3.2).
func (k *deviceKey) sign(body []byte) (string, error) {
	var sig []byte
	var err error
	switch s := k.signer.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(s, body)
	case *rsa.PrivateKey:
		sum := sha256.Sum256(body)
		sig, err = rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, sum[:])
	default:
		err = fmt.Errorf("unsupported key %T", k.signer)
	}
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
	rsaErr  error
)

// sharedRSAKey is generated once per process: RSA key generation is slow and
// the suite's devices differ by client id anyway.
func sharedRSAKey() (*rsa.PrivateKey, error) {
	rsaOnce.Do(func() { rsaKey, rsaErr = rsa.GenerateKey(rand.Reader, 2048) })
	return rsaKey, rsaErr
}

// newDeviceKey makes a key of the given kind (see registerAction.Key).
func newDeviceKey(kind string) (*deviceKey, error) {
	switch kind {
	case "ed25519", "ed25519-spki":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		raw := []byte(pub)
		if kind == "ed25519-spki" {
			if raw, err = x509.MarshalPKIXPublicKey(pub); err != nil {
				return nil, err
			}
		}
		return &deviceKey{keyType: "ed25519", public: base64.StdEncoding.EncodeToString(raw), signer: priv}, nil
	case "rsa":
		k, err := sharedRSAKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return nil, err
		}
		return &deviceKey{keyType: "rsa", public: base64.StdEncoding.EncodeToString(der), signer: k}, nil
	case "x509":
		k, err := sharedRSAKey()
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "paragon scenario device"},
			NotBefore:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			return nil, err
		}
		return &deviceKey{keyType: "x509", public: base64.StdEncoding.EncodeToString(der), signer: k}, nil
	}
	return nil, fmt.Errorf("unknown key kind %q", kind)
}

// deviceState is what a scenario knows about one of its devices.
type deviceState struct {
	clientID     string
	key          *deviceKey
	deviceCode   string
	accessToken  string
	refreshToken string
}

// session is a user's tokens after a login.
type session struct {
	accessToken  string
	refreshToken string
}

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

// scenarioRun is the state of one scenario while it runs: the target,
// variables, devices, sessions and secrets to mask. It is used by one
// goroutine.
type scenarioRun struct {
	t        *target
	sc       *Scenario
	vars     map[string]string
	devices  map[string]*deviceState
	sessions map[string]*session
	mask     *redact.Set
	last     *exchange
}

func newScenarioRun(t *target, sc *Scenario) *scenarioRun {
	r := &scenarioRun{t: t, sc: sc, vars: map[string]string{}, devices: map[string]*deviceState{}, sessions: map[string]*session{}, mask: &redact.Set{}}
	r.mask.Add(t.apiKey)
	r.mask.Add(t.secondKey)
	r.mask.Add(t.adminToken)
	return r
}

func (r *scenarioRun) device(alias string) *deviceState {
	if alias == "" {
		alias = "device"
	}
	d, ok := r.devices[alias]
	if !ok {
		d = &deviceState{clientID: newUUID()}
		r.devices[alias] = d
	}
	return d
}

func (r *scenarioRun) session(name string) *session {
	s, ok := r.sessions[name]
	if !ok {
		s = &session{}
		r.sessions[name] = s
	}
	return s
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
func (r *scenarioRun) oauthPost(ctx context.Context, p string, f url.Values, omit []string, extra map[string]string, sign string, key, newKey *deviceKey) (*exchange, error) {
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

// signature is the signature header's value for body as a step's sign field
// says ("" for none): auto (or empty) signs with key when there is one, yes
// must, new-key signs with newKey (the key the step registers), no never,
// and wrong sends a well-formed signature that does not verify.
func signature(sign string, body []byte, key, newKey *deviceKey) (string, error) {
	signer, signed := key, body
	switch sign {
	case "new-key":
		if signer = newKey; signer == nil {
			return "", nil
		}
	case "", "auto":
		if key == nil {
			return "", nil
		}
	case "yes":
		if key == nil {
			return "", fmt.Errorf("sign: yes, but the device has no key (register it with key: ed25519)")
		}
	case "wrong":
		if key != nil && key.keyType != "ed25519" {
			signed = append(bytes.Clone(body), '!') // the right key over other bytes
		} else {
			other, err := newDeviceKey("ed25519") // another key over these bytes
			if err != nil {
				return "", err
			}
			signer = other
		}
	default: // no
		return "", nil
	}
	return signer.sign(signed)
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

// lookupVar resolves ${name}.
func (r *scenarioRun) lookupVar(name string) (string, error) {
	if v, ok := r.vars[name]; ok {
		return v, nil
	}
	switch name {
	case "api_key":
		return r.t.apiKey, nil
	case "second_api_key":
		return r.t.secondKey, nil
	case "admin_token":
		return r.t.adminToken, nil
	case "base_url":
		return r.t.base, nil
	case "oauth_url":
		return r.t.oauth, nil
	case "admin_url":
		return r.t.admin, nil
	}
	if obj, field, ok := strings.Cut(name, "."); ok {
		if d, ok := r.devices[obj]; ok {
			switch field {
			case "client_id":
				return d.clientID, nil
			case "device_code":
				return d.deviceCode, nil
			case "access_token":
				return d.accessToken, nil
			case "refresh_token":
				return d.refreshToken, nil
			}
		}
		if s, ok := r.sessions[obj]; ok {
			switch field {
			case "access_token":
				return s.accessToken, nil
			case "refresh_token":
				return s.refreshToken, nil
			}
		}
		return "", fmt.Errorf("${%s}: no device or session %q with %s", name, obj, field)
	}
	if isEnvName(name) {
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("${%s}: the environment variable %s is not set", name, name)
		}
		r.mask.Add(v)
		return v, nil
	}
	return "", fmt.Errorf("${%s}: no such variable", name)
}

// expand replaces every ${name} in s.
func (r *scenarioRun) expand(s string) (string, error) {
	var firstErr error
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		v, err := r.lookupVar(m[2 : len(m)-1])
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	return out, firstErr
}

// expandAll returns a deep copy of v (a pointer to an action) with every
// string expanded; the original, shared between runs, is untouched.
func (r *scenarioRun) expandAll(v any) (any, error) {
	out, err := r.expandValue(reflect.ValueOf(v))
	if err != nil {
		return nil, err
	}
	return out.Interface(), nil
}

func (r *scenarioRun) expandValue(v reflect.Value) (reflect.Value, error) {
	switch v.Kind() {
	case reflect.String:
		s, err := r.expand(v.String())
		return reflect.ValueOf(s).Convert(v.Type()), err
	case reflect.Pointer:
		if v.IsNil() {
			return v, nil
		}
		e, err := r.expandValue(v.Elem())
		if err != nil {
			return v, err
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(e)
		return p, nil
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			f, err := r.expandValue(v.Field(i))
			if err != nil {
				return v, err
			}
			c.Field(i).Set(f)
		}
		return c, nil
	case reflect.Slice:
		if v.IsNil() {
			return v, nil
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			e, err := r.expandValue(v.Index(i))
			if err != nil {
				return v, err
			}
			c.Index(i).Set(e)
		}
		return c, nil
	case reflect.Map:
		if v.IsNil() {
			return v, nil
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			e, err := r.expandValue(it.Value())
			if err != nil {
				return v, err
			}
			c.SetMapIndex(it.Key(), e)
		}
		return c, nil
	case reflect.Interface:
		if v.IsNil() {
			return v, nil
		}
		e, err := r.expandValue(v.Elem())
		if err != nil {
			return v, err
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(e)
		return c, nil
	}
	return v, nil
}

// run runs the scenario's given and steps and grades it.
func (r *scenarioRun) run(ctx context.Context, onStep func(StepResult)) (res ScenarioResult) {
	res = baseResult(r.sc)
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	// stop ends the scenario at a step that did not pass: FAILED (WARNING
	// for a warning), or SKIPPED when the run was cancelled meanwhile (the
	// step was cut short; it did not fail).
	stop := func(sr StepResult, next int) ScenarioResult {
		res.Status = Failed
		if res.Severity == SeverityWarning {
			res.Status = Warning
		}
		if ctx.Err() != nil {
			sr.Status = Skipped
			res.Status, res.Reason = Skipped, "run cancelled"
		}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
		r.skipRest(&res, next, onStep)
		return res
	}
	if !r.t.embedded && changesServer(r.sc) {
		sr := r.adminStep(ctx, "reset the server", func() (*exchange, error) {
			return r.admin(ctx, http.MethodPost, "/admin/api/reset", nil)
		})
		if sr.Status != Passed {
			return stop(sr, len(r.sc.Steps))
		}
	}
	if g := r.sc.Given; g != nil {
		sr := r.adminStep(ctx, "given", func() (*exchange, error) { return r.applyGiven(ctx, g) })
		if sr.Status != Passed {
			return stop(sr, 0)
		}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
	}
	res.Status = Passed
	for i, st := range r.sc.Steps {
		if ctx.Err() != nil {
			r.skipRest(&res, i, onStep)
			res.Status, res.Reason = Skipped, "run cancelled"
			return res
		}
		sr := r.step(ctx, st, i+1)
		if sr.Status != Passed {
			return stop(sr, i+1)
		}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
	}
	return res
}

func (r *scenarioRun) skipRest(res *ScenarioResult, from int, onStep func(StepResult)) {
	for i := from; i < len(r.sc.Steps); i++ {
		sr := StepResult{Name: r.sc.Steps[i].label(i + 1), Status: Skipped}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
	}
}

// adminStep runs an admin call that must answer 2xx.
func (r *scenarioRun) adminStep(_ context.Context, name string, f func() (*exchange, error)) StepResult {
	start := time.Now()
	r.last = nil
	ex, err := f()
	sr := StepResult{Name: name, Status: Passed, Duration: time.Since(start)}
	if err != nil {
		sr.Status, sr.Error = Failed, r.mask.Scrub(err.Error())
	} else if ex.status/100 != 2 {
		sr.Status = Failed
		sr.Failures = []Failure{{Expectation: "status 2xx", Expected: "2xx", Actual: fmt.Sprint(ex.status)}}
	}
	sr.Exchange = r.render(r.last)
	return sr
}

// applyGiven sets the given keys and settings; it returns the first answer
// that was not 2xx, or the last one.
func (r *scenarioRun) applyGiven(ctx context.Context, g *Given) (*exchange, error) {
	var last *exchange
	for _, name := range sortedKeys(g.Keys) {
		ex, err := r.admin(ctx, http.MethodPatch, "/admin/api/keys/"+url.PathEscape(r.t.keyName(name)), g.Keys[name])
		if err != nil || ex.status/100 != 2 {
			return ex, err
		}
		last = ex
	}
	if g.Settings != nil {
		return r.admin(ctx, http.MethodPatch, "/admin/api/settings", g.Settings)
	}
	return last, nil
}

// label names a step in reports.
func (st *Step) label(index int) string {
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("%s #%d", st.Kind, index)
}

// step runs one step and checks its expectations and captures.
func (r *scenarioRun) step(ctx context.Context, st *Step, index int) (sr StepResult) {
	sr = StepResult{Name: st.label(index), Status: Passed}
	start := time.Now()
	defer func() { sr.Duration = time.Since(start) }()
	r.last = nil
	a, err := r.expandAll(st.Action)
	var ex *exchange
	if err == nil {
		ex, err = a.(action).run(ctx, r)
	}
	if err != nil {
		sr.Status, sr.Error = Failed, r.mask.Scrub(err.Error())
		sr.Exchange = r.render(r.last)
		return sr
	}
	sr.Failures = r.check(st.Expect, ex)
	if len(sr.Failures) == 0 {
		sr.Failures = r.capture(st.Capture, ex)
	}
	if len(sr.Failures) > 0 {
		sr.Status = Failed
	}
	sr.Exchange = r.render(ex)
	return sr
}
