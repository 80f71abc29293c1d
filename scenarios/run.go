package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrUnreachable is wrapped by Run's error when the outside target cannot be
// reached at all (connection refused, DNS failure, TLS failure, timeout).
// The error is then an *UnreachableError saying which service failed.
var ErrUnreachable = errors.New("target unreachable")

// ErrAdminTokenRefused is wrapped by Run's error when the outside target's
// admin API answers but refuses Target.AdminToken (401 or 403).
var ErrAdminTokenRefused = errors.New("admin token refused")

// ErrAPIKeyRefused is wrapped by Run's error when the outside target refuses
// an API key of the run before anything runs. The error is then a
// *KeyRefusedError saying which key.
var ErrAPIKeyRefused = errors.New("API key refused")

// The keys of a run, as KeyRefusedError.Key names them (and scenarios name
// them in key: fields).
const (
	KeyDefault = "default" // Target.APIKey
	KeySecond  = "second"  // Target.SecondAPIKey
)

// KeyRefusedError says which API key of the run an outside target refused:
// GET /api/v1/version with it answered 403 invalid_api_key (docs/protocol.md
// 2.3: unknown, inactive or expired, or not allowed from this address).
// errors.Is(err, ErrAPIKeyRefused) holds for it. It never holds the key.
type KeyRefusedError struct {
	Key string // KeyDefault or KeySecond
	URL string // the API root asked
}

// Error leaves out the server's error_description: the server's text, which
// could echo the key or hold escape sequences, stays out of the message.
func (e *KeyRefusedError) Error() string {
	which := "API key"
	switch e.Key {
	case KeyDefault:
	case KeySecond:
		which = "second API key"
	default:
		which = fmt.Sprintf("API key %q", e.Key) // a key of a target file, by its name there
	}
	return fmt.Sprintf("the API at %s refused the %s (GET /api/v1/version answered 403 invalid_api_key)", e.URL, which)
}

// Is makes errors.Is(err, ErrAPIKeyRefused) hold.
func (e *KeyRefusedError) Is(target error) bool { return target == ErrAPIKeyRefused }

// The services of an outside target, as UnreachableError.Service names them.
const (
	ServiceAPI   = "API"
	ServiceOAuth = "OAuth service"
	ServiceAdmin = "admin API"
)

// UnreachableError says which service of an outside target could not be
// reached. errors.Is(err, ErrUnreachable) holds for it.
type UnreachableError struct {
	Service string // ServiceAPI, ServiceOAuth or ServiceAdmin
	URL     string // the root URL tried
	Err     error  // the network error, without the request's method and URL
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the %s at %s: %v", e.Service, e.URL, e.Err)
}

// Is makes errors.Is(err, ErrUnreachable) hold.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// Unwrap returns the network error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// DemoAPIKey is the API key of the reference server's demo account, used
// against an outside target when Target.APIKey is empty.
const DemoAPIKey = "paragon-dev-key"

// Target says which server the scenarios run against. The zero value is the
// embedded reference server: a fresh in-process instance with a fake clock
// for every scenario.
type Target struct {
	BaseURL    string       // root serving /api/v1 (a trailing /api/v1 is ignored); "" = embedded
	OAuthURL   string       // root serving /oauth/v1; "" = BaseURL
	APIKey     string       // "" = DemoAPIKey
	AdminURL   string       // root serving /admin/api; "" = no admin API (scenarios that need it are skipped)
	AdminToken string       // bearer token for the admin API
	HTTPClient *http.Client // nil = a client with a 30 s timeout

	// SecondAPIKey is another active key of the same account, for the
	// scenarios that check a user token is bound to its key (needs
	// second-key); "" = none (the embedded server has one).
	SecondAPIKey string

	// NoDeviceKeys says the server does not accept device public keys:
	// scenarios that need device-key are skipped.
	NoDeviceKeys bool

	// Declared, if set, is what a target file declares about the server.
	// Without an admin API the runner then checks each scenario's given
	// against it instead of setting it up, uses its keys, users, lifetimes
	// and approval method, and waits for real where a scenario moves the
	// clock (see ReadTargetFile).
	Declared *Declared

	// Prompt, for a Declared target with approval: prompt, asks a person to
	// approve the device (it returns once they said so); nil: no terminal.
	Prompt func(clientID, description string)

	// Wrap, on the embedded target only, wraps each reference server's
	// handler (adminToken is that server's admin token); tests use it to run
	// the suite against deliberately broken servers.
	Wrap func(h http.Handler, adminToken string) http.Handler
}

// EventKind says what an Event reports.
type EventKind string

// The kinds of live progress events.
const (
	ScenarioStarted  EventKind = "scenario-started"
	StepFinished     EventKind = "step-finished"
	ScenarioFinished EventKind = "scenario-finished"
)

// Event is live progress of a run, for reporters.
type Event struct {
	Kind     EventKind
	Index    int             // position of the scenario in the list given to Run
	Total    int             // length of that list
	Scenario *Scenario       // the scenario concerned
	Step     *StepResult     // StepFinished: the step's result
	Result   *ScenarioResult // ScenarioFinished: the scenario's result
}

// RunOptions configure Run.
type RunOptions struct {
	Target   Target
	Parallel int  // scenarios run at once; < 1 means 1
	FailFast bool // after the first FAILED scenario, skip the ones not yet started
	// Baseline, if set, lists the scenarios expected to fail: their results
	// are marked (ScenarioResult.Expected) before they are reported.
	Baseline *Baseline
	// OnEvent, if set, receives live progress. It is called from one
	// goroutine at a time, in order for any one scenario.
	OnEvent func(Event)
	// Vars are variables given from outside the scenario files (--var,
	// --vars-file), used as ${NAME}; for one name the last one counts. The
	// values of those whose IsSecret holds are masked in every report.
	Vars []Variable
}

// Selection filters scenarios for Select. Empty fields select everything.
type Selection struct {
	Tags       []string // keep scenarios having at least one of these tags
	Names      []string // keep scenarios whose name contains one of these or matches it as a regular expression
	ShardIndex int      // 1-based shard to keep, with ShardCount
	ShardCount int      // split into this many shards; 0 or 1: no sharding
}

// Select returns the scenarios matching s, in their original order. Shards
// are deterministic: the matching scenarios are sorted by name and dealt out
// round-robin, so shard I of N gets the same scenarios on every machine.
func Select(list []*Scenario, s Selection) []*Scenario {
	var nameREs []*regexp.Regexp
	for _, p := range s.Names {
		if re, err := regexp.Compile(p); err == nil {
			nameREs = append(nameREs, re)
		}
	}
	var out []*Scenario
	for _, sc := range list {
		if len(s.Tags) > 0 && !anyTag(sc.Tags, s.Tags) {
			continue
		}
		if len(s.Names) > 0 && !anyName(sc.Name, s.Names, nameREs) {
			continue
		}
		out = append(out, sc)
	}
	if s.ShardCount <= 1 {
		return out
	}
	names := make([]string, len(out))
	for i, sc := range out {
		names[i] = sc.Name
	}
	sort.Strings(names)
	keep := map[string]bool{}
	for i, n := range names {
		if i%s.ShardCount == s.ShardIndex-1 {
			keep[n] = true
		}
	}
	var shard []*Scenario
	for _, sc := range out {
		if keep[sc.Name] {
			shard = append(shard, sc)
		}
	}
	return shard
}

func anyTag(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

func anyName(name string, patterns []string, res []*regexp.Regexp) bool {
	for _, p := range patterns {
		if strings.Contains(name, p) {
			return true
		}
	}
	for _, re := range res {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// target is a resolved Target: URLs without trailing slashes and the
// capabilities found.
type target struct {
	embedded   bool
	base       string
	oauth      string
	admin      string
	apiKey     string
	secondKey  string
	adminToken string
	client     *http.Client
	caps       map[string]bool
	missing    map[string]string   // need → why the target lacks it
	vars       map[string]Variable // RunOptions.Vars by name
	decl       *Declared
	prompt     func(clientID, description string)
	runID      string // names the run in the descriptions of the devices it registers
	// keyNames maps the names scenarios use for keys ("default": the key
	// of the run, "second": the second key) to their names on an outside
	// server, found through its admin API.
	keyNames map[string]string
}

// keyName is the target's name for the key a scenario calls name.
func (t *target) keyName(name string) string {
	if n, ok := t.keyNames[name]; ok {
		return n
	}
	return name
}

// Run runs the scenarios against opts.Target and returns a report listing
// them in the order given. Scenarios that fail do not make Run return an
// error; an error means the run itself could not happen (it wraps
// ErrUnreachable when the outside target cannot be reached, or ctx's error).
func Run(ctx context.Context, list []*Scenario, opts RunOptions) (*Report, error) {
	start := time.Now()
	t, err := resolveTarget(ctx, opts.Target)
	if err != nil {
		return nil, err
	}
	t.vars = map[string]Variable{}
	for _, v := range opts.Vars {
		t.vars[v.Name] = v
	}
	if t.caps[NeedAdmin] && !t.embedded {
		// start from the server's start state: earlier runs may have changed it
		sr := newScenarioRun(t, &Scenario{}, nil)
		res := sr.adminStep(ctx, "reset", func() (*exchange, error) { return sr.admin(ctx, http.MethodPost, "/admin/api/reset", nil) })
		if res.Status != Passed {
			return nil, fmt.Errorf("resetting the server at %s before the run failed: %s%s", t.admin, res.Error, failureText(res.Failures))
		}
	}
	rep := &Report{Target: "embedded reference server", Started: start}
	if !t.embedded {
		rep.Target = t.base
	}
	if usesRSA(list) {
		go func() { _, _ = sharedRSAKey() }() // slow: let it overlap the first scenarios
	}
	s := newScheduler(t, list, max(opts.Parallel, 1))
	rep.Scenarios = make([]ScenarioResult, s.entries)
	ex := &executor{t: t, spec: opts.Target, opts: &opts, rep: rep, s: s}
	ex.emitFn = func(e Event) {
		if opts.OnEvent != nil {
			ex.emitMu.Lock()
			defer ex.emitMu.Unlock()
			opts.OnEvent(e)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < min(s.limit, max(len(list), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := s.next()
				if j == nil {
					return
				}
				ex.run(ctx, j)
				s.done(j)
			}
		}()
	}
	wg.Wait()
	s.close()
	rep.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		rep.Interrupted = true
		return rep, err
	}
	return rep, nil
}

func skippedResult(sc *Scenario, reason string) ScenarioResult {
	r := baseResult(sc)
	r.Status, r.Reason = Skipped, reason
	return r
}

func baseResult(sc *Scenario) ScenarioResult {
	sev := sc.Severity
	if sev == "" {
		sev = SeverityFailure
	}
	return ScenarioResult{Name: sc.Name, File: sc.File, Line: sc.Line, Description: sc.Description, Rule: sc.Rule, Severity: sev, Tags: sc.Tags}
}

// embeddedEnv is one worker's embedded reference server, reset between the
// scenarios it runs. It is called in process (handlerTransport), without
// sockets.
type embeddedEnv struct {
	client  *http.Client
	release func()
	token   string
}

func (e *embeddedEnv) close() {
	if e.client != nil {
		e.release()
	}
}

// prepare starts the server on first use and resets it afterwards.
func (e *embeddedEnv) prepare(ctx context.Context, spec Target) error {
	if e.client == nil {
		es, err := NewEmbeddedServer(spec.Wrap)
		if err != nil {
			return err
		}
		e.client, e.release, e.token = es.Client, es.Close, es.AdminToken
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, embeddedBase+"/admin/api/reset", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("resetting the embedded server: answer %d", resp.StatusCode)
	}
	return nil
}

// changesServer reports whether a scenario changes the server's state
// through the admin API (and so resets it first).
func changesServer(sc *Scenario) bool {
	return sc.Given != nil || slices.Contains(sc.Needs, NeedAdmin)
}

func trimBase(u string, suffixes ...string) string {
	u = strings.TrimRight(u, "/")
	for _, s := range suffixes {
		u = strings.TrimSuffix(u, s)
	}
	return strings.TrimRight(u, "/")
}

// resolveTarget fills defaults and, for an outside target, checks that it
// answers and which capabilities it has.
func resolveTarget(ctx context.Context, spec Target) (*target, error) {
	t := newTarget(spec)
	if t.embedded {
		return t, nil
	}
	return t, t.probe(ctx)
}

// newTarget fills spec's defaults without asking the target anything.
func newTarget(spec Target) *target {
	if spec.BaseURL == "" {
		t := &target{embedded: true, runID: randomHex(4), apiKey: DemoAPIKey, secondKey: embeddedSecondKey,
			caps:    map[string]bool{NeedAdmin: true, NeedClock: true, NeedDeviceKey: !spec.NoDeviceKeys, NeedSecondKey: true},
			missing: map[string]string{NeedDeviceKey: "the target was told not to use device keys"}}
		return t
	}
	t := &target{
		base:       trimBase(spec.BaseURL, "/api/v1"),
		oauth:      trimBase(spec.OAuthURL, "/oauth/v1"),
		admin:      trimBase(spec.AdminURL, "/admin/api", "/admin"),
		apiKey:     spec.APIKey,
		secondKey:  spec.SecondAPIKey,
		adminToken: spec.AdminToken,
		client:     spec.HTTPClient,
		caps:       map[string]bool{NeedDeviceKey: !spec.NoDeviceKeys},
		missing:    map[string]string{NeedDeviceKey: "the target was told it does not accept device keys"},
		decl:       spec.Declared,
		prompt:     spec.Prompt,
		runID:      randomHex(4),
	}
	if d := t.decl; d != nil {
		if k, ok := d.Keys[KeyDefault]; ok && t.apiKey == "" {
			t.apiKey = k.Value
		}
		if k, ok := d.Keys[KeySecond]; ok && t.secondKey == "" {
			t.secondKey = k.Value
		}
		if d.DeviceKeys != nil && len(d.DeviceKeys) == 0 {
			t.caps[NeedDeviceKey] = false
		}
	}
	if t.oauth == "" {
		t.oauth = t.base
	}
	if t.apiKey == "" {
		t.apiKey = DemoAPIKey
	}
	if t.client == nil {
		t.client = &http.Client{Timeout: 30 * time.Second}
	}
	t.client = sameOriginRedirects(t.client)
	if t.secondKey != "" || (t.decl != nil && len(t.decl.Keys) > 1) {
		t.caps[NeedSecondKey] = true
	} else {
		t.missing[NeedSecondKey] = "no second API key given (add --second-api-key KEY)"
	}
	if t.admin == "" {
		t.missing[NeedAdmin] = "no --admin-url given (add --admin-url URL --admin-token TOKEN)"
		t.missing[NeedClock] = t.missing[NeedAdmin]
	}
	return t
}

// probe checks that an outside target answers, that it takes the run's
// keys and what its admin API offers.
func (t *target) probe(ctx context.Context) error {
	probe := func(method, u string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return 0, err
		}
		resp, err := t.client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if _, err := probe(http.MethodHead, t.base+"/api/v1/account"); err != nil {
		return &UnreachableError{Service: ServiceAPI, URL: t.base, Err: netErr(err)}
	}
	if t.oauth != t.base {
		if _, err := probe(http.MethodHead, t.oauth+"/oauth/v1/token"); err != nil {
			return &UnreachableError{Service: ServiceOAuth, URL: t.oauth, Err: netErr(err)}
		}
	}
	keys := []struct{ name, value string }{{KeyDefault, t.apiKey}, {KeySecond, t.secondKey}}
	if t.decl != nil {
		for _, n := range sortedKeys(t.decl.Keys) {
			if k := t.decl.Keys[n]; n != KeyDefault && n != KeySecond && k.Usable() {
				keys = append(keys, struct{ name, value string }{n, t.decl.Keys[n].Value})
			}
		}
	}
	for _, k := range keys {
		if k.value == "" {
			continue
		}
		if err := checkAPIKey(ctx, t, k.name, k.value); err != nil {
			return err
		}
	}
	if t.admin == "" {
		return nil
	}
	adminReq := func(method, p, body string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, t.admin+p, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+t.adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := t.client.Do(req)
		if err != nil {
			return 0, nil, &UnreachableError{Service: ServiceAdmin, URL: t.admin, Err: netErr(err)}
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return 0, nil, &UnreachableError{Service: ServiceAdmin, URL: t.admin, Err: err}
		}
		return resp.StatusCode, data, nil
	}
	code, _, err := adminReq(http.MethodGet, "/admin/api/settings", "")
	if err != nil {
		return err
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%w: the admin API at %s answered %d", ErrAdminTokenRefused, t.admin, code)
	case code != http.StatusOK:
		t.missing[NeedAdmin] = fmt.Sprintf("GET %s/admin/api/settings answered %d", t.admin, code)
		t.missing[NeedClock] = t.missing[NeedAdmin]
		return nil
	}
	t.caps[NeedAdmin] = true
	code, body, err := adminReq(http.MethodGet, "/admin/api/keys", "")
	if err != nil {
		return err
	}
	if code == http.StatusOK {
		t.keyNames = keyNames(body, map[string]string{"default": t.apiKey, "second": t.secondKey})
	}
	code, _, err = adminReq(http.MethodPost, "/admin/api/clock", `{"advance":"0s"}`)
	if err != nil {
		return err
	}
	if code == http.StatusOK {
		t.caps[NeedClock] = true
	} else {
		t.missing[NeedClock] = "the server's clock is not fake (start it with --fake-clock)"
	}
	return nil
}

// checkAPIKey asks the target's version function with the key: 403
// invalid_api_key is a key the target refuses, which would otherwise fail
// or skip scenarios all through the run as if the server were at fault. Any
// other answer (a missing user token among them) passes.
func checkAPIKey(ctx context.Context, t *target, name, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/api/v1/version", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Api-Key", key)
	resp, err := t.client.Do(req)
	if err != nil {
		return &UnreachableError{Service: ServiceAPI, URL: t.base, Err: netErr(err)}
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusForbidden || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body) != nil || body.Error != "invalid_api_key" {
		return nil
	}
	return &KeyRefusedError{Key: name, URL: t.base}
}

// keyNames reads GET /admin/api/keys and maps each alias to the name of
// the key whose value it has; aliases whose key is not listed are left out.
func keyNames(body []byte, values map[string]string) map[string]string {
	var list struct {
		Items []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"items"`
	}
	if json.Unmarshal(body, &list) != nil {
		return nil
	}
	out := map[string]string{}
	for alias, value := range values {
		for _, k := range list.Items {
			if value != "" && k.Value == value {
				out[alias] = k.Name
			}
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// usesRSA reports whether a scenario registers an RSA or X.509 key.
func usesRSA(list []*Scenario) bool {
	for _, sc := range list {
		for _, st := range sc.Steps {
			if a, ok := st.Action.(*registerAction); ok && (a.Key == "rsa" || a.Key == "x509") {
				return true
			}
		}
	}
	return false
}

func failureText(fs []Failure) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s: got %s", f.Expectation, f.Actual)
	}
	return b.String()
}

// netErr drops the method and URL a *url.Error repeats: the caller names the
// server already.
func netErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sameOriginRedirects returns a copy of hc that follows a redirect only on
// the host (and scheme) of the request that started it: steps carry the API
// key, the admin token, passwords and refresh tokens, which Go would resend
// to another host (X-Api-Key always, the form on 307 and 308). A redirect
// elsewhere is not followed; the step sees the 3xx answer itself.
func sameOriginRedirects(hc *http.Client) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 {
			first := via[0].URL
			if !strings.EqualFold(req.URL.Host, first.Host) || !strings.EqualFold(req.URL.Scheme, first.Scheme) {
				return http.ErrUseLastResponse
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}
