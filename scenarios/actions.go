package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// action is one kind of step: it knows what it needs from the target and how
// to run. Implementations are read from YAML and never changed when run
// (run works on an expanded copy), so one Scenario can run concurrently.
type action interface {
	// needs lists the capabilities the step uses (NeedAdmin, ...).
	needs() []string
	// run performs the step; the last HTTP exchange is the one checked.
	run(ctx context.Context, r *scenarioRun) (*exchange, error)
}

// actionKinds maps a step's action key to a constructor.
var actionKinds = map[string]func() action{
	"register":     func() action { return &registerAction{} },
	"approve":      func() action { return &deviceAdminAction{op: "approve"} },
	"refuse":       func() action { return &deviceAdminAction{op: "refuse"} },
	"untrust":      func() action { return &deviceAdminAction{op: "untrust"} },
	"device_token": func() action { return &deviceTokenAction{} },
	"refresh":      func() action { return &refreshAction{} },
	"login":        func() action { return &loginAction{} },
	"call":         func() action { return &callAction{} },
	"advance":      func() action { return &advanceAction{} },
	"key":          func() action { return &keyAction{} },
	"settings":     func() action { return &settingsAction{} },
	"revoke":       func() action { return &revokeAction{} },
	"fault":        func() action { return &faultAction{} },
	"http":         func() action { return &httpAction{} },
}

// signModes are the values of a step's sign field.
var signModes = map[string]bool{"": true, "auto": true, "yes": true, "no": true, "wrong": true, "new-key": true}

func (d *decoder) checkSign(n *yaml.Node, sign string) {
	if !signModes[sign] {
		d.errorf(n, "sign: expected auto, yes, no, wrong or new-key, found %q", sign)
	}
}

// registerAction is POST /oauth/v1/register for a device known in the
// scenario by an alias.
type registerAction struct {
	Device       string               `yaml:"device"`        // alias; default "device"
	ClientID     *string              `yaml:"client_id"`     // default: a fresh UUID kept for the alias
	ClientType   *string              `yaml:"client_type"`   // default printer
	ResponseType *string              `yaml:"response_type"` // default device_code
	Description  *string              `yaml:"description"`   // client_description
	State        *string              `yaml:"state"`
	Key          string               `yaml:"key"`  // keep (default), none, ed25519, ed25519-spki, rsa, x509
	Sign         string               `yaml:"sign"` // auto: with the device's registered key, else its new key; new-key: with the key this step sends
	APIKey       *string              `yaml:"api_key"`
	Omit         []string             `yaml:"omit"` // form fields to leave out
	Form         map[string]FormValue `yaml:"form"` // extra or replacing form fields
}

var keyKinds = map[string]bool{"": true, "keep": true, "none": true, "ed25519": true, "ed25519-spki": true, "rsa": true, "x509": true}

func (a *registerAction) setShorthand(d *decoder, n *yaml.Node) { a.Device = n.Value }

func (a *registerAction) validate(d *decoder, n *yaml.Node) {
	if !keyKinds[a.Key] {
		d.errorf(n, "register.key: expected keep, none, ed25519, ed25519-spki, rsa or x509, found %q", a.Key)
	}
	d.checkSign(n, a.Sign)
}

// describe says which device a step registers.
func (a *registerAction) describe() string { return alias(a.Device) }

func (a *registerAction) needs() []string {
	if a.Key != "" && a.Key != "keep" && a.Key != "none" {
		return []string{NeedDeviceKey}
	}
	return nil
}

func (a *registerAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	dev := r.device(a.Device)
	if a.ClientID != nil {
		dev.clientID = *a.ClientID
	}
	old := dev.key
	if a.Key != "" && a.Key != "keep" {
		if a.Key == "none" {
			dev.key = nil
		} else {
			k, err := newDeviceKey(a.Key)
			if err != nil {
				return nil, err
			}
			dev.key = k
		}
	}
	f := url.Values{}
	f.Set("client_id", dev.clientID)
	f.Set("client_secret", r.apiKeyOr(a.APIKey))
	f.Set("client_type", deref(a.ClientType, "printer"))
	f.Set("response_type", deref(a.ResponseType, "device_code"))
	dev.description = deref(a.Description, "")
	if a.Description == nil && !r.t.embedded {
		// an operator can tell the run's devices apart and remove them
		dev.description = fmt.Sprintf("paragon scenario %s (run %s)", r.sc.Name, r.t.runID)
	}
	if dev.description != "" {
		f.Set("client_description", dev.description)
	}
	if a.State != nil {
		f.Set("state", *a.State)
	}
	if dev.key != nil {
		f.Set("public_key", dev.key.public)
		f.Set("key_type", dev.key.keyType)
	}
	signer := old
	if signer == nil {
		signer = dev.key
	}
	ex, err := r.oauthPost(ctx, "/oauth/v1/register", f, a.Omit, a.Form, a.Sign, signer, dev.key)
	if err != nil {
		return nil, err
	}
	if ex.status == http.StatusOK {
		if code, ok := ex.jsonString("device_code"); ok {
			dev.deviceCode = code
		}
		if !r.t.embedded {
			r.registered = append(r.registered, RegisteredDevice{ClientID: dev.clientID, Description: dev.description})
		}
	}
	return ex, nil
}

// deviceAdminAction approves, refuses or untrusts a device through the admin
// API.
type deviceAdminAction struct {
	op     string
	Device string `yaml:"device"`
}

func (a *deviceAdminAction) setShorthand(d *decoder, n *yaml.Node) { a.Device = n.Value }
func (a *deviceAdminAction) needs() []string                       { return []string{NeedAdmin} }

func (a *deviceAdminAction) describe() string { return alias(a.Device) }

func (a *deviceAdminAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	if a.op == "approve" && r.t.declaredMode() {
		if err := r.awaitTrust(ctx, r.device(a.Device)); err != nil {
			return nil, err
		}
		return &exchange{status: http.StatusOK}, nil
	}
	p := "/admin/api/devices/" + url.PathEscape(r.device(a.Device).clientID)
	if a.op == "untrust" {
		return r.admin(ctx, http.MethodDelete, p, nil)
	}
	return r.admin(ctx, http.MethodPost, p+"/"+a.op, nil) // approve, refuse
}

// deviceTokenAction is POST /oauth/v1/token with grant_type=device_code.
type deviceTokenAction struct {
	Device     string               `yaml:"device"`
	Poll       string               `yaml:"poll"`      // once (default) or until-done
	MaxPolls   int                  `yaml:"max_polls"` // until-done: at most this many requests (default 10)
	Interval   *Duration            `yaml:"interval"`  // until-done: clock advance between polls (default 5s)
	DeviceCode *string              `yaml:"device_code"`
	ClientID   *string              `yaml:"client_id"`
	Sign       string               `yaml:"sign"`
	APIKey     *string              `yaml:"api_key"`
	Omit       []string             `yaml:"omit"`
	Form       map[string]FormValue `yaml:"form"`
}

func (a *deviceTokenAction) setShorthand(d *decoder, n *yaml.Node) { a.Device = n.Value }

func (a *deviceTokenAction) validate(d *decoder, n *yaml.Node) {
	if a.Poll != "" && a.Poll != "once" && a.Poll != "until-done" {
		d.errorf(n, "device_token.poll: expected once or until-done, found %q", a.Poll)
	}
	if a.MaxPolls < 0 || a.MaxPolls > 100 {
		d.errorf(n, "device_token.max_polls: expected 1 to 100, found %d", a.MaxPolls)
	}
	d.checkSign(n, a.Sign)
}

func (a *deviceTokenAction) describe() string { return alias(a.Device) }

func (a *deviceTokenAction) needs() []string { return nil }

func (a *deviceTokenAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	dev := r.device(a.Device)
	interval := 5 * time.Second
	if a.Interval != nil {
		interval = durationOf(*a.Interval)
	}
	polls := 1
	if a.Poll == "until-done" {
		polls = 10
		if a.MaxPolls > 0 {
			polls = a.MaxPolls
		}
	}
	send := func() (*exchange, error) {
		f := url.Values{}
		f.Set("client_id", deref(a.ClientID, dev.clientID))
		f.Set("client_secret", r.apiKeyOr(a.APIKey))
		f.Set("grant_type", "device_code")
		f.Set("device_code", deref(a.DeviceCode, dev.deviceCode))
		ex, err := r.oauthPost(ctx, "/oauth/v1/token", f, a.Omit, a.Form, a.Sign, dev.key, dev.key)
		if err == nil && ex.status == http.StatusOK {
			dev.accessToken, _ = ex.jsonString("access_token")
			dev.refreshToken, _ = ex.jsonString("refresh_token")
		}
		return ex, err
	}
	if dev.awaitTrust {
		return r.pollTrust(ctx, send, dev)
	}
	var ex *exchange
	for i := 0; i < polls; i++ {
		if i > 0 {
			if err := r.wait(ctx, interval); err != nil {
				return ex, err
			}
		}
		var err error
		ex, err = send()
		if err != nil {
			return nil, err
		}
		if ex.status == http.StatusOK {
			break
		}
		code, _ := ex.jsonString("error")
		if code == "slow_down" {
			interval += 5 * time.Second
		} else if code != "authorization_pending" {
			break
		}
	}
	return ex, nil
}

// refreshAction is POST /oauth/v1/token with grant_type=refresh_token, for a
// device (client_id = its id) or a user session (client_id = api).
type refreshAction struct {
	Device   string               `yaml:"device"`
	User     string               `yaml:"user"`  // session name given at login (default: the user name)
	Token    *string              `yaml:"token"` // the refresh token to send; default the current one
	ClientID *string              `yaml:"client_id"`
	Sign     string               `yaml:"sign"`
	APIKey   *string              `yaml:"api_key"`
	Keep     bool                 `yaml:"keep"` // do not replace the stored tokens with the answer's
	Omit     []string             `yaml:"omit"`
	Form     map[string]FormValue `yaml:"form"`
}

func (a *refreshAction) validate(d *decoder, n *yaml.Node) {
	if (a.Device == "") == (a.User == "") {
		d.errorf(n, "refresh: expected exactly one of device or user")
	}
	d.checkSign(n, a.Sign)
}

func (a *refreshAction) describe() string {
	if a.Device != "" {
		return "device " + a.Device
	}
	return "user " + a.User
}

func (a *refreshAction) needs() []string { return nil }

func (a *refreshAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	f := url.Values{}
	f.Set("client_secret", r.apiKeyOr(a.APIKey))
	f.Set("grant_type", "refresh_token")
	var dev *deviceState
	var sess *session
	if a.Device != "" {
		dev = r.device(a.Device)
		if a.Token == nil && dev.refreshToken == "" {
			return nil, fmt.Errorf("device %q has no refresh token yet: add a device_token step first", a.Device)
		}
		f.Set("client_id", deref(a.ClientID, dev.clientID))
		f.Set("refresh_token", deref(a.Token, dev.refreshToken))
	} else {
		sess = r.session(a.User)
		if a.Token == nil && sess.refreshToken == "" {
			return nil, fmt.Errorf("no session %q with a refresh token: log in first", a.User)
		}
		f.Set("client_id", deref(a.ClientID, "api"))
		f.Set("refresh_token", deref(a.Token, sess.refreshToken))
	}
	var key *deviceKey
	if dev != nil {
		key = dev.key
	}
	ex, err := r.oauthPost(ctx, "/oauth/v1/token", f, a.Omit, a.Form, a.Sign, key, key)
	if err != nil {
		return nil, err
	}
	if ex.status == http.StatusOK && !a.Keep {
		at, _ := ex.jsonString("access_token")
		rt, _ := ex.jsonString("refresh_token")
		if dev != nil {
			dev.accessToken, dev.refreshToken = at, rt
		} else {
			sess.accessToken, sess.refreshToken = at, rt
		}
	}
	return ex, nil
}

// authtypes maps readable login kinds to the protocol's codes.
var authtypes = map[string]string{"password": "0", "card": "1", "short_id": "2", "username": "3", "email": "4"}

// demoUser is a user of the demo account (contract section 7.2).
type demoUser struct{ password, card, shortID, email string }

var demoUsers = map[string]demoUser{
	"alice": {"wonderland", "CARD-0001", "1001", "alice@example.com"},
	"bob":   {"builder", "CARD-0002", "1002", "bob@example.com"},
	"carol": {"queen-of-hearts", "CARD-0003", "1003", "carol@example.com"},
}

// loginAction is /api/v1/login.
type loginAction struct {
	User        string               `yaml:"user"`     // a demo user: userid and password follow from authtype
	Authtype    string               `yaml:"authtype"` // password (default), card, short_id, username, email, or a number
	UserID      *string              `yaml:"userid"`
	Password    *string              `yaml:"password"`
	Device      string               `yaml:"device"`       // alias whose device token to present; auto (default): one of its own when the key needs it; none; wrong
	DeviceToken *string              `yaml:"device_token"` // present exactly this bearer token
	Method      string               `yaml:"method"`       // POST (default) or GET
	As          string               `yaml:"as"`           // session name; default the user
	APIKey      *string              `yaml:"api_key"`
	Form        map[string]FormValue `yaml:"form"` // extra or replacing fields
	Omit        []string             `yaml:"omit"`
}

func (a *loginAction) setShorthand(d *decoder, n *yaml.Node) { a.User = n.Value }

func (a *loginAction) validate(d *decoder, n *yaml.Node) {
	if a.Method != "" && a.Method != "POST" && a.Method != "GET" {
		d.errorf(n, "login.method: expected POST or GET, found %q", a.Method)
	}
	if _, err := strconv.Atoi(a.Authtype); a.Authtype != "" && authtypes[a.Authtype] == "" && err != nil {
		d.errorf(n, "login.authtype: expected password, card, short_id, username, email or a number, found %q%s", a.Authtype, didYouMean(a.Authtype, slices.Collect(maps.Keys(authtypes))))
	}
	if a.User == "" && a.UserID == nil {
		d.errorf(n, "login: expected user (a demo user) or userid")
	}
	if _, ok := demoUsers[a.User]; a.User != "" && !ok && (a.UserID == nil || (a.Password == nil && (a.Authtype == "" || a.Authtype == "password" || a.Authtype == "0"))) {
		d.errorf(n, "login: %q is not a demo user (alice, bob, carol): give userid and password", a.User)
	}
}

func (a *loginAction) describe() string {
	switch {
	case a.As != "":
		return a.As
	case a.User != "":
		return a.User
	}
	return deref(a.UserID, "")
}

func (a *loginAction) needs() []string { return nil }

func (a *loginAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	code := a.Authtype
	if c, ok := authtypes[code]; ok {
		code = c
	}
	if code == "" {
		code = "0"
	}
	du, userid := r.user(a.User)
	switch code {
	case "1":
		userid = du.card
	case "2":
		userid = du.shortID
	case "4":
		userid = du.email
	}
	userid = deref(a.UserID, userid)
	if code == "1" || code == "2" {
		r.mask.Add(userid) // a card or short ID is all it takes to log in: a secret
	}
	f := url.Values{}
	f.Set("authtype", code)
	f.Set("userid", userid)
	if code == "0" || a.Password != nil {
		pw := deref(a.Password, du.password)
		r.mask.Add(pw)
		f.Set("password", pw)
	}
	applyForm(f, a.Omit, a.Form)
	var bearer string
	switch {
	case a.DeviceToken != nil:
		bearer = *a.DeviceToken
	case a.Device == "" || a.Device == "auto":
		if r.loginNeedsDevice(a.APIKey) {
			tok, err := r.loginDevice(ctx, a.APIKey)
			if err != nil {
				return nil, err
			}
			bearer = tok
		}
	case a.Device == "none":
	case a.Device == "wrong":
		bearer = "not-a-device-token-" + randomHex(8)
	default:
		dev := r.device(a.Device)
		if dev.accessToken == "" {
			return nil, fmt.Errorf("device %q has no device token yet: add a device_token step before this login", a.Device)
		}
		bearer = dev.accessToken
	}
	var req *http.Request
	var body []byte
	var err error
	if a.Method == "GET" {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, r.t.base+"/api/v1/login?"+f.Encode(), nil)
	} else {
		body = []byte(f.Encode())
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, r.t.base+"/api/v1/login", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, err
	}
	r.setAPIKey(req, a.APIKey)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	ex, err := r.do(req, body)
	if err != nil {
		return nil, err
	}
	if ex.status == http.StatusOK {
		name := a.As
		if name == "" {
			name = a.User
		}
		if name == "" {
			name = userid
		}
		s := r.session(name)
		s.accessToken, _ = ex.jsonString("token", "access_token")
		s.refreshToken, _ = ex.jsonString("token", "refresh_token")
	}
	return ex, nil
}

// fileSpec is one file part of a multipart body.
type fileSpec struct {
	Filename    string `yaml:"filename"`
	Content     string `yaml:"content"`
	ContentType string `yaml:"content_type"`
}

// multipartSpec is a multipart/form-data body.
type multipartSpec struct {
	Fields map[string]string   `yaml:"fields"`
	Files  map[string]fileSpec `yaml:"files"`
}

// callAction calls an API function.
type callAction struct {
	Method    string               `yaml:"method"` // default GET
	Path      string               `yaml:"path"`   // under /api/v1 unless it starts with /api/, /oauth/ or /admin/
	Query     map[string]string    `yaml:"query"`
	Form      map[string]FormValue `yaml:"form"`
	Multipart *multipartSpec       `yaml:"multipart"`
	// Body is sent as it is, with ContentType (default text/plain;
	// charset=utf-8); Headers may set Content-Type too.
	Body        *string           `yaml:"body"`
	ContentType string            `yaml:"content_type"`
	Headers     map[string]string `yaml:"headers"`
	As          string            `yaml:"as"`    // a session; device:<alias>; nobody (default)
	Token       *string           `yaml:"token"` // present exactly this bearer token
	APIKey      *string           `yaml:"api_key"`
}

// setShorthand reads "GET /users/all".
func (a *callAction) setShorthand(d *decoder, n *yaml.Node) {
	m, p, ok := strings.Cut(strings.TrimSpace(n.Value), " ")
	if !ok {
		d.errorf(n, "call: expected \"METHOD /path\" or a mapping, found %q", n.Value)
		return
	}
	a.Method, a.Path = m, strings.TrimSpace(p)
}

func (a *callAction) validate(d *decoder, n *yaml.Node) {
	if a.Path == "" {
		d.errorf(n, "call: expected a path such as /users/all")
	}
	given := 0
	for _, b := range []bool{a.Form != nil, a.Multipart != nil, a.Body != nil} {
		if b {
			given++
		}
	}
	if given > 1 {
		d.errorf(n, "call: expected at most one of form, multipart and body")
	}
	if a.ContentType != "" && a.Body == nil {
		d.errorf(n, "call: content_type is the type of body: add body, or set Content-Type in headers")
	}
}

func (a *callAction) describe() string {
	m := a.Method
	if m == "" {
		m = http.MethodGet
	}
	return m + " " + a.Path
}

func (a *callAction) needs() []string {
	if strings.HasPrefix(a.Path, "/admin/") {
		return []string{NeedAdmin}
	}
	return nil
}

func (a *callAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	method := a.Method
	if method == "" {
		method = http.MethodGet
	}
	u := withQuery(r.urlFor(apiPath(a.Path)), a.Query)
	var body []byte
	ctype := ""
	switch {
	case a.Form != nil:
		body, ctype = formBody(a.Form)
	case a.Body != nil:
		body, ctype = []byte(*a.Body), a.ContentType
		if ctype == "" {
			ctype = "text/plain; charset=utf-8"
		}
	case a.Multipart != nil:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, k := range sortedKeys(a.Multipart.Fields) {
			_ = mw.WriteField(k, a.Multipart.Fields[k])
		}
		for _, k := range sortedKeys(a.Multipart.Files) {
			fs := a.Multipart.Files[k]
			name := fs.Filename
			if name == "" {
				name = k + ".bin"
			}
			ct := fs.ContentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			w, err := mw.CreatePart(map[string][]string{
				"Content-Disposition": {fmt.Sprintf(`form-data; name=%q; filename=%q`, k, name)},
				"Content-Type":        {ct},
			})
			if err != nil {
				return nil, err
			}
			_, _ = w.Write([]byte(fs.Content))
		}
		_ = mw.Close()
		body, ctype = buf.Bytes(), mw.FormDataContentType()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	r.setAPIKey(req, a.APIKey)
	tok, err := r.bearerFor(a.As, a.Token)
	if err != nil {
		return nil, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range a.Headers {
		req.Header.Set(k, v)
	}
	ex, err := r.do(req, body)
	if err == nil && ex.status/100 == 2 {
		var username string
		if v := a.Form["username"]; len(v) > 0 {
			username = v[0]
		}
		r.track(method, apiPath(a.Path), username, a.As)
	}
	return ex, err
}

// urlFor turns a path into a URL on the service that serves it: /oauth/ on
// the OAuth base, /admin/ on the admin base, anything else on the API base.
// Absolute URLs stay as they are.
func (r *scenarioRun) urlFor(p string) string {
	switch {
	case strings.HasPrefix(p, "/oauth/"):
		return r.t.oauth + p
	case strings.HasPrefix(p, "/admin/"):
		return r.t.admin + p
	case strings.HasPrefix(p, "/"):
		return r.t.base + p
	}
	return p
}

// apiPath puts a function's path under /api/v1 unless it names a service.
func apiPath(p string) string {
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/oauth/") || strings.HasPrefix(p, "/admin/") || p == "/healthz" {
		return p
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return "/api/v1" + p
}

// advanceAction moves the server's fake clock, or waits for real on a
// declared target. It is a duration ("5s") or relative to a lifetime of the
// account: "access_token_ttl + 1s", "device_code_ttl / 2",
// "refresh_token_ttl - 1m".
type advanceAction struct {
	By       Duration      // a fixed duration, when Lifetime is ""
	Lifetime string        // one of lifetimeNames
	Div      int           // the lifetime divided by this (1 when not given)
	Plus     time.Duration // added (negative: subtracted)
	text     string
}

func (a *advanceAction) decodeNode(d *decoder, n *yaml.Node) {
	a.text = n.Value
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "advance: expected a duration such as 5s or a lifetime such as access_token_ttl + 1s, found %s", kindName(n))
		return
	}
	if err := a.parse(n.Value); err != nil {
		d.errorf(n, "advance: %v", err)
	}
}

// parse reads "DURATION" or "LIFETIME [/ N] [+|- DURATION]".
func (a *advanceAction) parse(s string) error {
	if dur, err := time.ParseDuration(strings.TrimSpace(s)); err == nil {
		a.By = Duration(dur)
		return nil
	}
	f := strings.Fields(s)
	bad := fmt.Errorf("expected a duration such as 5s, 61m or 2160h, or a lifetime (%s) with an optional / N and + or - a duration, such as access_token_ttl + 1s; found %q", strings.Join(lifetimeNames, ", "), s)
	if len(f) == 0 || !slices.Contains(lifetimeNames, f[0]) {
		return bad
	}
	a.Lifetime, a.Div, f = f[0], 1, f[1:]
	if len(f) >= 2 && f[0] == "/" {
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 {
			return bad
		}
		a.Div, f = n, f[2:]
	}
	if len(f) == 2 && (f[0] == "+" || f[0] == "-") {
		dur, err := time.ParseDuration(f[1])
		if err != nil {
			return bad
		}
		if f[0] == "-" {
			dur = -dur
		}
		a.Plus, f = dur, nil
	}
	if len(f) != 0 {
		return bad
	}
	return nil
}

// duration is how far the step moves the clock given the lifetimes.
func (a *advanceAction) duration(l lifetimes) (time.Duration, error) {
	if a.Lifetime == "" {
		return durationOf(a.By), nil
	}
	base, ok := l[a.Lifetime]
	if !ok {
		return 0, fmt.Errorf("%s is not known", a.Lifetime)
	}
	return max(base/time.Duration(a.Div)+a.Plus, 0), nil
}

func (a *advanceAction) describe() string {
	if a.Lifetime != "" {
		return a.text
	}
	return durationOf(a.By).String()
}

func (a *advanceAction) needs() []string { return []string{NeedAdmin, NeedClock} }

func (a *advanceAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	d, err := a.duration(r.lifetimes)
	if err != nil {
		return nil, err
	}
	if !r.t.caps[NeedClock] {
		// a declared target: the plan allowed this wait
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
		return &exchange{status: http.StatusOK}, nil
	}
	return r.advance(ctx, d)
}

// keyAction changes an API key through the admin API.
type keyAction struct {
	Name     string `yaml:"name"` // default "default" (the run's key; "second" is the second key)
	KeyPatch `yaml:",inline"`
}

func (a *keyAction) describe() string {
	if a.Name == "" {
		return "default"
	}
	return a.Name
}

func (a *keyAction) needs() []string { return []string{NeedAdmin} }

func (a *keyAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	name := a.Name
	if name == "" {
		name = "default"
	}
	return r.admin(ctx, http.MethodPatch, "/admin/api/keys/"+url.PathEscape(r.t.keyName(name)), a.KeyPatch)
}

// settingsAction changes the account lifetimes.
type settingsAction struct {
	SettingsPatch `yaml:",inline"`
}

func (a *settingsAction) needs() []string { return []string{NeedAdmin} }

func (a *settingsAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	ex, err := r.admin(ctx, http.MethodPatch, "/admin/api/settings", a.SettingsPatch)
	if err == nil && ex.status/100 == 2 {
		r.lifetimes.apply(&a.SettingsPatch)
	}
	return ex, err
}

// revokeAction revokes a user's or a device's tokens.
type revokeAction struct {
	User   string `yaml:"user"`
	Device string `yaml:"device"`
}

func (a *revokeAction) validate(d *decoder, n *yaml.Node) {
	if (a.User == "") == (a.Device == "") {
		d.errorf(n, "revoke: expected exactly one of user or device")
	}
}

func (a *revokeAction) describe() string {
	if a.Device != "" {
		return "device " + a.Device
	}
	return "user " + a.User
}

func (a *revokeAction) needs() []string { return []string{NeedAdmin} }

func (a *revokeAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	body := map[string]string{"username": a.User}
	if a.Device != "" {
		body = map[string]string{"client_id": r.device(a.Device).clientID}
	}
	return r.admin(ctx, http.MethodPost, "/admin/api/revoke", body)
}

// faultAction injects faults (or clears them) through the admin API.
type faultAction struct {
	Path   string    `yaml:"path"`
	Status int       `yaml:"status"`
	Delay  *Duration `yaml:"delay"`
	Drop   bool      `yaml:"drop"`
	Count  int       `yaml:"count"`
	Clear  bool      `yaml:"clear"` // remove every fault instead
}

func (a *faultAction) validate(d *decoder, n *yaml.Node) {
	if !a.Clear && a.Path == "" {
		d.errorf(n, "fault: expected path (or clear: true)")
	}
}

func (a *faultAction) describe() string {
	if a.Clear {
		return "clear"
	}
	return a.Path
}

func (a *faultAction) needs() []string { return []string{NeedAdmin} }

func (a *faultAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	if a.Clear {
		return r.admin(ctx, http.MethodDelete, "/admin/api/faults", nil)
	}
	body := map[string]any{"path": a.Path, "drop": a.Drop}
	if a.Status != 0 {
		body["status"] = a.Status
	}
	if a.Delay != nil {
		body["delay"] = *a.Delay
	}
	count := a.Count
	if count == 0 {
		count = 1
	}
	body["count"] = count
	return r.admin(ctx, http.MethodPost, "/admin/api/faults", body)
}

// httpAction is a raw HTTP request for anything the other steps do not
// cover. A relative url goes to the OAuth base for /oauth/, the admin base
// for /admin/ and the API base otherwise; nothing is added to the request.
type httpAction struct {
	Method  string               `yaml:"method"`
	URL     string               `yaml:"url"`
	Headers map[string]string    `yaml:"headers"`
	Query   map[string]string    `yaml:"query"`
	Form    map[string]FormValue `yaml:"form"`
	Body    *string              `yaml:"body"`
	JSON    any                  `yaml:"json"`
	SignAs  string               `yaml:"sign_as"` // sign the body with this device's key
}

func (a *httpAction) validate(d *decoder, n *yaml.Node) {
	if a.URL == "" {
		d.errorf(n, "http: expected url")
	}
	given := 0
	for _, b := range []bool{a.Form != nil, a.Body != nil, a.JSON != nil} {
		if b {
			given++
		}
	}
	if given > 1 {
		d.errorf(n, "http: expected at most one of form, body and json")
	}
}

func (a *httpAction) describe() string {
	m := a.Method
	if m == "" {
		m = "GET"
		if a.Form != nil || a.Body != nil || a.JSON != nil {
			m = "POST"
		}
	}
	return m + " " + a.URL
}

func (a *httpAction) needs() []string {
	if strings.HasPrefix(a.URL, "/admin/") {
		return []string{NeedAdmin}
	}
	return nil
}

func (a *httpAction) run(ctx context.Context, r *scenarioRun) (*exchange, error) {
	u := withQuery(r.urlFor(a.URL), a.Query)
	var body []byte
	ctype := ""
	switch {
	case a.Form != nil:
		body, ctype = formBody(a.Form)
	case a.Body != nil:
		body = []byte(*a.Body)
	case a.JSON != nil:
		b, err := json.Marshal(a.JSON)
		if err != nil {
			return nil, err
		}
		body, ctype = b, "application/json"
	}
	method := a.Method
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if a.SignAs != "" {
		dev := r.device(a.SignAs)
		if dev.key == nil {
			return nil, fmt.Errorf("device %q has no key to sign with", a.SignAs)
		}
		sig, err := dev.key.sign(body)
		if err != nil {
			return nil, err
		}
		r.mask.Add(sig)
		req.Header.Set(signatureHeader, sig)
	}
	for k, v := range a.Headers {
		req.Header.Set(k, v)
	}
	return r.do(req, body)
}

// alias is a device alias as steps default it.
func alias(a string) string {
	if a == "" {
		return "device"
	}
	return a
}

func deref(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// withQuery adds the query parameters to u (after any it has).
func withQuery(u string, query map[string]string) string {
	if len(query) == 0 {
		return u
	}
	q := url.Values{}
	for k, v := range query {
		q.Set(k, v)
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + q.Encode()
}

// FormValue is the value of a form field as a scenario writes it: a
// string, or a list sent as the field repeated, in order
// (detailtype: [0, 3] is detailtype=0&detailtype=3).
type FormValue []string

func (v *FormValue) decodeNode(d *decoder, n *yaml.Node) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	out := make(FormValue, 0, len(items))
	for _, it := range items {
		it = resolve(it)
		if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
			d.errorf(it, "form: expected a value (a string or number) or a list of them, found %s", kindName(it))
			continue
		}
		out = append(out, it.Value)
	}
	*v = out
}

// formBody encodes fields as an application/x-www-form-urlencoded body and
// returns it with its content type.
func formBody(fields map[string]FormValue) ([]byte, string) {
	f := url.Values{}
	applyForm(f, nil, fields)
	return []byte(f.Encode()), "application/x-www-form-urlencoded"
}

// applyForm removes the omitted fields and sets the extra ones, a list as
// the field repeated.
func applyForm(f url.Values, omit []string, extra map[string]FormValue) {
	for _, k := range omit {
		f.Del(k)
	}
	for k, v := range extra {
		f[k] = slices.Clone(v)
	}
}
