package explore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/scenarios"
)

// Target is the server explored. Either it has the reference server's
// admin API (contract section 7.3): the explorer resets the server before
// every walk and drives approvals, switches, lifetimes and revocation
// through it; or Declared describes a server the explorer cannot configure
// (a target file): the walks then start from what it declares and use only
// what it allows.
type Target struct {
	Client       *http.Client
	BaseURL      string // root serving /api/v1
	OAuthURL     string // root serving /oauth/v1
	AdminURL     string // root serving /admin/api
	APIKey       string
	SecondAPIKey string // "" = no second key: the explorer does not check key binding
	AdminToken   string
	// Declared, if not nil, is the target file of a server without an
	// admin API: AdminURL and AdminToken are not used; APIKey and
	// SecondAPIKey are taken from its keys (see DeclaredKeys).
	Declared *scenarios.Declared
}

// ErrAdminTokenRefused is returned when the admin API refuses the token.
var ErrAdminTokenRefused = errors.New("admin token refused")

// KeyRefusedError is returned when a declared target refuses one of the
// keys the explorer would use.
type KeyRefusedError struct {
	Name   string // the key's name in the target file
	Status int
	Code   string
}

func (e *KeyRefusedError) Error() string {
	return fmt.Sprintf("the server refuses the key %s of the target file: GET /api/v1/version answered %d %s", e.Name, e.Status, e.Code)
}

// account is a user the explorer logs in as: its name in the scenario
// files, the userid for each authtype ("" where the target has none) and
// the password.
type account struct {
	name     string
	ids      [len(authNames)]string
	password string
}

// demoAccounts are the reference server's demo users (contract section 7.2).
func demoAccounts() []account {
	out := make([]account, len(users))
	for u, name := range users {
		out[u] = account{name: name, password: demoPasswords[u],
			ids: [len(authNames)]string{name, fmt.Sprintf("CARD-%04d", u+1), fmt.Sprint(1001 + u), name, name + "@example.com"}}
	}
	return out
}

// declaredAccounts are the users a target file declares, by name, at most
// as many as the demo users.
func declaredAccounts(decl *scenarios.Declared) []account {
	var out []account
	for _, name := range slices.Sorted(maps.Keys(decl.Users)) {
		u := decl.Users[name]
		a := account{name: name, password: u.Password, ids: [len(authNames)]string{u.UserID, u.Card, u.ShortID, u.UserID, u.Email}}
		if u.Password == "" {
			a.ids[0] = ""
		}
		out = append(out, a)
		if len(out) == len(users) {
			break
		}
	}
	return out
}

// DeclaredKeys picks the keys a declared target is explored with: the
// default key, and as the second key another active, unrestricted key
// with both switches off ("second" if it is one), as `scenario run` picks
// them; "" when there is none.
func DeclaredKeys(decl *scenarios.Declared) (def, second, secondName string) {
	def = decl.Keys[scenarios.KeyDefault].Value
	names := slices.Sorted(maps.Keys(decl.Keys))
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == scenarios.KeySecond && b != a:
			return -1
		case b == scenarios.KeySecond && a != b:
			return 1
		}
		return 0
	})
	for _, n := range names {
		k := decl.Keys[n]
		if n == scenarios.KeyDefault || k.Value == "" || k.Value == def || !k.Usable() || k.AllowUnauthenticated || k.AllowUntrusted {
			continue
		}
		return def, k.Value, n
	}
	return def, "", ""
}

// answer is one HTTP answer, decoded as far as the explorer needs.
type answer struct {
	Obs
	access, refresh, code string
	wwwAuth               string // the WWW-Authenticate header
	body                  []byte
}

// made is what one operation created, as the server wrote it.
type made struct{ access, refresh, code string }

type devInfo struct {
	id         string
	priv       ed25519.PrivateKey
	pub        string
	registered bool
}

// driver sends operations to the target.
type driver struct {
	t        Target
	keyName  string // the default key's name on the server
	clock    bool   // the server has a fake clock
	accounts []account
	devs     [numDevices]devInfo
	made     []made // by operation id
	// on a declared target: the client_description of the devices
	// registered, and how many were
	desc       string
	registered int
}

// connect checks the admin API and finds the default key's name and whether
// the server has a fake clock.
func (d *driver) connect(ctx context.Context) error {
	if d.t.Declared != nil {
		return d.connectDeclared(ctx)
	}
	d.accounts = demoAccounts()
	a, err := d.admin(ctx, http.MethodGet, "/admin/api/keys", nil)
	if err != nil {
		return err
	}
	if a.Status == 401 || a.Status == 403 {
		return fmt.Errorf("%w: the admin API at %s answered %d", ErrAdminTokenRefused, d.t.AdminURL, a.Status)
	}
	var keys struct {
		Items []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"items"`
	}
	if a.Status != 200 || json.Unmarshal(a.body, &keys) != nil {
		return fmt.Errorf("the admin API at %s answered GET /admin/api/keys with %d", d.t.AdminURL, a.Status)
	}
	for _, k := range keys.Items {
		if k.Value == d.t.APIKey {
			d.keyName = k.Name
		}
	}
	if d.keyName == "" {
		return fmt.Errorf("the admin API at %s lists no key with the value of --api-key", d.t.AdminURL)
	}
	a, err = d.admin(ctx, http.MethodGet, "/admin/api/clock", nil)
	if err != nil {
		return err
	}
	var clock struct {
		Fake bool `json:"fake"`
	}
	_ = json.Unmarshal(a.body, &clock)
	d.clock = a.Status == 200 && clock.Fake
	return nil
}

// reset puts the server back to its start state with the walk's lifetimes
// and gives the devices new ids and keys.
// On a declared target nothing is reset: the walk gets devices of its own
// and logs in anew, so nothing of an earlier walk is used again.
func (d *driver) reset(ctx context.Context, s *State) error {
	if d.t.Declared == nil {
		a, err := d.admin(ctx, http.MethodPost, "/admin/api/reset", nil)
		if err != nil {
			return err
		}
		if a.Status != 200 {
			return fmt.Errorf("resetting the server: answer %d", a.Status)
		}
		a, err = d.admin(ctx, http.MethodPatch, "/admin/api/settings", map[string]string{
			"access_token_ttl": s.AccessTTL.String(), "refresh_token_ttl": s.RefreshTTL.String(),
			"device_code_ttl": s.CodeTTL.String(), "refresh_grace": s.Grace.String(),
		})
		if err != nil {
			return err
		}
		if a.Status != 200 {
			return fmt.Errorf("setting the lifetimes: answer %d", a.Status)
		}
	}
	for i := range walkDevices {
		d.devs[i] = devInfo{id: client.NewDeviceID()}
		if keyedDevice(i) {
			pub, priv, _ := ed25519.GenerateKey(rand.Reader)
			d.devs[i].priv, d.devs[i].pub = priv, base64.StdEncoding.EncodeToString(pub)
		}
	}
	d.made = d.made[:0]
	return nil
}

func (d *driver) key(k int) string {
	if k == 1 {
		return d.t.SecondAPIKey
	}
	return d.t.APIKey
}

// do sends op (operation id) and records what it created.
func (d *driver) do(ctx context.Context, op Op, id int) (answer, error) {
	for len(d.made) <= id {
		d.made = append(d.made, made{})
	}
	var a answer
	var err error
	switch op.Kind {
	case OpRegister:
		dev := d.devs[op.Dev]
		f := url.Values{"client_id": {dev.id}, "client_secret": {d.t.APIKey}, "client_type": {"printer"}, "response_type": {"device_code"}}
		if dev.priv != nil {
			f.Set("public_key", dev.pub)
			f.Set("key_type", "ed25519")
		}
		if d.desc != "" {
			f.Set("client_description", d.desc)
		}
		signer := dev.priv
		if op.Unsigned {
			signer = nil
		}
		a, err = d.oauth(ctx, "/oauth/v1/register", f, signer, op.Bad)
		if d.t.Declared != nil && err == nil && a.Status == 200 && !dev.registered {
			d.devs[op.Dev].registered = true
			d.registered++
		}
	case OpPoll:
		dev := d.devs[op.Dev]
		f := url.Values{"client_id": {dev.id}, "client_secret": {d.t.APIKey}, "grant_type": {"device_code"}, "device_code": {d.made[op.Ref].code}}
		a, err = d.oauth(ctx, "/oauth/v1/token", f, dev.priv, op.Bad)
	case OpRefresh:
		f := url.Values{"client_id": {"api"}, "client_secret": {d.key(op.Key)}, "grant_type": {"refresh_token"}, "refresh_token": {d.made[op.Ref].refresh}}
		var signer ed25519.PrivateKey
		if op.Dev >= 0 {
			f.Set("client_id", d.devs[op.Dev].id)
			signer = d.devs[op.Dev].priv
		}
		a, err = d.oauth(ctx, "/oauth/v1/token", f, signer, op.Bad)
	case OpLogin:
		acc := d.accounts[op.User]
		f := url.Values{"authtype": {fmt.Sprint(op.Auth)}, "userid": {acc.ids[op.Auth]}}
		if op.Auth == 0 {
			f.Set("password", acc.password)
		}
		a, err = d.api(ctx, http.MethodPost, "/api/v1/login", op.Key, op.Ref, []byte(f.Encode()), op.Bad)
	case OpCall:
		a, err = d.api(ctx, http.MethodGet, "/api/v1/version", op.Key, op.Ref, nil, op.Bad)
	case OpApprove:
		if d.t.Declared != nil {
			a, err = d.approveByCommand(ctx, d.devs[op.Dev].id)
			break
		}
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/devices/"+url.PathEscape(d.devs[op.Dev].id)+"/approve", nil)
	case OpRefuse:
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/devices/"+url.PathEscape(d.devs[op.Dev].id)+"/"+op.Kind.String(), nil)
	case OpForget:
		a, err = d.admin(ctx, http.MethodDelete, "/admin/api/devices/"+url.PathEscape(d.devs[op.Dev].id), nil)
	case OpRevokeUser:
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/revoke", map[string]string{"username": d.accounts[op.User].ids[0]})
	case OpRevokeDevice:
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/revoke", map[string]string{"client_id": d.devs[op.Dev].id})
	case OpAdvance:
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/clock", map[string]string{"advance": op.Dur.String()})
	case OpGrace:
		a, err = d.admin(ctx, http.MethodPatch, "/admin/api/settings", map[string]string{settingNames[op.Switch]: op.Dur.String()})
	case OpSwitch:
		a, err = d.admin(ctx, http.MethodPatch, "/admin/api/keys/"+url.PathEscape(d.keyName), map[string]bool{switchNames[op.Switch]: op.Flag})
	case OpKeyField:
		a, err = d.admin(ctx, http.MethodPatch, "/admin/api/keys/"+url.PathEscape(d.keyName), keyPatch(op))
	}
	if err != nil {
		return a, err
	}
	if a.Status == 200 {
		d.made[id] = made{access: a.access, refresh: a.refresh, code: a.code}
	}
	return a, nil
}

var demoPasswords = []string{"wonderland", "builder", "queen-of-hearts"}

// wrongAPIKey is a key no account has.
const wrongAPIKey = "not-a-key-of-this-account"

// wrongSigner signs with a key no device registered.
var wrongSigner = func() ed25519.PrivateKey {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return priv
}()

// oauth sends an OAuth request, made wrong as bad says.
func (d *driver) oauth(ctx context.Context, path string, f url.Values, signer ed25519.PrivateKey, bad uint8) (answer, error) {
	switch bad {
	case BadKeyUnknown:
		f.Set("client_secret", wrongAPIKey)
	case BadKeyMissing:
		f.Del("client_secret")
	case BadSigMissing:
		signer = nil
	case BadSigWrong:
		signer = wrongSigner
	case BadRequest:
		f.Set("client_type", badClientType)
	case BadGrantType:
		f.Set("grant_type", badGrantType)
	}
	body := []byte(f.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.t.OAuthURL+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signer != nil {
		req.Header.Set("HCP-Request-Signature", client.SignBody(signer, body))
	}
	return d.send(req)
}

// The values of a register with an unknown client_type and of a token
// request with an unknown grant_type.
const (
	badClientType = "toaster"
	badGrantType  = "password"
)

// api sends an API request; bad may leave out its key or send a wrong one.
func (d *driver) api(ctx context.Context, method, path string, key, ref int, body []byte, bad uint8) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.t.BaseURL+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	switch bad {
	case BadKeyUnknown:
		req.Header.Set("X-Api-Key", wrongAPIKey)
	case BadKeyMissing:
	default:
		req.Header.Set("X-Api-Key", d.key(key))
	}
	if ref >= 0 {
		req.Header.Set("Authorization", "Bearer "+d.made[ref].access)
	}
	return d.send(req)
}

func (d *driver) admin(ctx context.Context, method, path string, v any) (answer, error) {
	var rd io.Reader
	if v != nil {
		b, _ := json.Marshal(v)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.t.AdminURL+path, rd)
	if err != nil {
		return answer{}, err
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+d.t.AdminToken)
	return d.send(req)
}

// maxBody bounds what the explorer reads of an answer.
const maxBody = 1 << 20

func (d *driver) send(req *http.Request) (answer, error) {
	resp, err := d.t.Client.Do(req)
	if err != nil {
		return answer{}, &SendError{Method: req.Method, Path: req.URL.Path, Err: unwrapURL(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return answer{}, &SendError{Method: req.Method, Path: req.URL.Path, Err: err}
	}
	a := answer{Obs: Obs{Status: resp.StatusCode}, body: body, wwwAuth: resp.Header.Get("WWW-Authenticate")}
	if len(body) > 0 && body[0] == '{' {
		var v struct {
			Error        string          `json:"error"`
			AccessToken  string          `json:"access_token"`
			RefreshToken string          `json:"refresh_token"`
			DeviceCode   string          `json:"device_code"`
			Token        json.RawMessage `json:"token"`
		}
		if json.Unmarshal(body, &v) == nil {
			a.Error, a.access, a.refresh, a.code = v.Error, v.AccessToken, v.RefreshToken, v.DeviceCode
			if len(v.Token) > 0 {
				var t struct {
					AccessToken  string `json:"access_token"`
					RefreshToken string `json:"refresh_token"`
				}
				if json.Unmarshal(v.Token, &t) == nil {
					a.access, a.refresh = t.AccessToken, t.RefreshToken
				}
			}
		}
	}
	return a, nil
}

// SendError is a request that got no answer (the target is unreachable).
type SendError struct {
	Method, Path string
	Err          error
}

func (e *SendError) Error() string { return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err) }
func (e *SendError) Unwrap() error { return e.Err }

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// keyPatch is the admin API's PATCH body for an OpKeyField.
func keyPatch(op Op) map[string]any {
	switch op.Switch {
	case FieldActive:
		return map[string]any{"active": !op.Flag}
	case FieldIPs:
		ips := []string{}
		if op.Flag {
			ips = []string{outsideIPs}
		}
		return map[string]any{"allowed_ips": ips}
	case FieldExpiry:
		if op.Flag {
			return map[string]any{"expires_at": pastExpiry}
		}
		return map[string]any{"expires_at": ""}
	}
	return map[string]any{"permissions": permNames(op.Perms)}
}

// permNames lists the functions of a permission set.
func permNames(p uint8) []string {
	out := []string{}
	if p&PermLogin != 0 {
		out = append(out, "login")
	}
	if p&PermVersion != 0 {
		out = append(out, "version")
	}
	return out
}

// connectDeclared checks that a declared target answers and takes the
// keys the explorer uses (a refused key: *KeyRefusedError).
func (d *driver) connectDeclared(ctx context.Context) error {
	d.accounts = declaredAccounts(d.t.Declared)
	_, _, secondName := DeclaredKeys(d.t.Declared)
	for _, k := range []struct {
		name string
		key  int
	}{{scenarios.KeyDefault, 0}, {secondName, 1}} {
		if d.key(k.key) == "" {
			continue
		}
		a, err := d.api(ctx, http.MethodGet, "/api/v1/version", k.key, -1, nil, BadNone)
		if err != nil {
			return err
		}
		if a.Error == "invalid_api_key" || a.Status == 401 {
			return &KeyRefusedError{Name: k.name, Status: a.Status, Code: a.Error}
		}
	}
	if d.t.OAuthURL != d.t.BaseURL {
		if _, err := d.oauth(ctx, "/oauth/v1/token", url.Values{}, nil, BadNone); err != nil {
			return err
		}
	}
	return nil
}

// approveByCommand approves a device as the target file says: its
// approval_command, which must have approved the device when it exits.
func (d *driver) approveByCommand(ctx context.Context, clientID string) (answer, error) {
	if _, err := d.t.Declared.RunApprovalCommand(ctx, clientID); err != nil {
		return answer{}, fmt.Errorf("approval_command %s %s: %w", d.t.Declared.ApprovalCommand, clientID, err)
	}
	return answer{Obs: Obs{Status: 200}}, nil
}
