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
	"net/http"
	"net/url"

	"github.com/paragon-cli/paragon/client"
)

// Target is the server explored. It must have the reference server's admin
// API (contract section 7.3): the explorer resets the server before every
// walk and drives approvals, switches, lifetimes and revocation through it.
type Target struct {
	Client       *http.Client
	BaseURL      string // root serving /api/v1
	OAuthURL     string // root serving /oauth/v1
	AdminURL     string // root serving /admin/api
	APIKey       string
	SecondAPIKey string // "" = no second key: the explorer does not check key binding
	AdminToken   string
}

// ErrAdminTokenRefused is returned when the admin API refuses the token.
var ErrAdminTokenRefused = errors.New("admin token refused")

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
	id   string
	priv ed25519.PrivateKey
	pub  string
}

// driver sends operations to the target.
type driver struct {
	t       Target
	keyName string // the default key's name on the server
	clock   bool   // the server has a fake clock
	devs    [numDevices]devInfo
	made    []made // by operation id
}

// connect checks the admin API and finds the default key's name and whether
// the server has a fake clock.
func (d *driver) connect(ctx context.Context) error {
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
func (d *driver) reset(ctx context.Context, s *State) error {
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
	for i := range d.devs {
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
		signer := dev.priv
		if op.Unsigned {
			signer = nil
		}
		a, err = d.oauth(ctx, "/oauth/v1/register", f, signer)
	case OpPoll:
		dev := d.devs[op.Dev]
		f := url.Values{"client_id": {dev.id}, "client_secret": {d.t.APIKey}, "grant_type": {"device_code"}, "device_code": {d.made[op.Ref].code}}
		a, err = d.oauth(ctx, "/oauth/v1/token", f, dev.priv)
	case OpRefresh:
		f := url.Values{"client_id": {"api"}, "client_secret": {d.key(op.Key)}, "grant_type": {"refresh_token"}, "refresh_token": {d.made[op.Ref].refresh}}
		var signer ed25519.PrivateKey
		if op.Dev >= 0 {
			f.Set("client_id", d.devs[op.Dev].id)
			signer = d.devs[op.Dev].priv
		}
		a, err = d.oauth(ctx, "/oauth/v1/token", f, signer)
	case OpLogin:
		f := url.Values{"authtype": {fmt.Sprint(op.Auth)}, "userid": {userID(op.User, op.Auth)}}
		if op.Auth == 0 {
			f.Set("password", demoPasswords[op.User])
		}
		a, err = d.api(ctx, http.MethodPost, "/api/v1/login", op.Key, op.Ref, []byte(f.Encode()))
	case OpCall:
		a, err = d.api(ctx, http.MethodGet, "/api/v1/version", op.Key, op.Ref, nil)
	case OpApprove, OpRefuse:
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/devices/"+url.PathEscape(d.devs[op.Dev].id)+"/"+op.Kind.String(), nil)
	case OpForget:
		a, err = d.admin(ctx, http.MethodDelete, "/admin/api/devices/"+url.PathEscape(d.devs[op.Dev].id), nil)
	case OpRevokeUser:
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/revoke", map[string]string{"username": users[op.User]})
	case OpRevokeDevice:
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/revoke", map[string]string{"client_id": d.devs[op.Dev].id})
	case OpAdvance:
		a, err = d.admin(ctx, http.MethodPost, "/admin/api/clock", map[string]string{"advance": op.Dur.String()})
	case OpGrace:
		a, err = d.admin(ctx, http.MethodPatch, "/admin/api/settings", map[string]string{"refresh_grace": op.Dur.String()})
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

// userID is the userid of a demo user for an authtype (contract section 7.2).
func userID(u, auth int) string {
	name := users[u]
	switch auth {
	case 1:
		return fmt.Sprintf("CARD-%04d", u+1)
	case 2:
		return fmt.Sprint(1001 + u)
	case 4:
		return name + "@example.com"
	}
	return name
}

func (d *driver) oauth(ctx context.Context, path string, f url.Values, signer ed25519.PrivateKey) (answer, error) {
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

func (d *driver) api(ctx context.Context, method, path string, key, ref int, body []byte) (answer, error) {
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
	req.Header.Set("X-Api-Key", d.key(key))
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
