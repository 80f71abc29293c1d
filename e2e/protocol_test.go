package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// demoKey is the demo account's API key.
const demoKey = "paragon-dev-key"

// answer is a decoded JSON response.
type answer struct {
	Status int
	Body   map[string]any
	Header http.Header
}

// str returns a string field of the body ("" if absent), also inside the
// login answer's "token" object.
func (a answer) str(name string) string {
	if v, ok := a.Body[name].(string); ok {
		return v
	}
	if tok, ok := a.Body["token"].(map[string]any); ok {
		if v, ok := tok[name].(string); ok {
			return v
		}
	}
	return ""
}

// httpClient talks to one server with plain net/http.
type httpClient struct {
	base  string
	admin string
	c     *http.Client
}

func newHTTPClient(base, adminToken string) *httpClient {
	return &httpClient{base: base, admin: adminToken, c: &http.Client{Timeout: 10 * time.Second}}
}

// trustCA makes the client trust the PEM certificate in file (as curl
// --cacert does).
func (h *httpClient) trustCA(file string) error {
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return fmt.Errorf("%s holds no PEM certificate", file)
	}
	h.c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 16}
	return nil
}

// do sends a request and decodes the JSON answer; an error means no
// complete answer was received.
func (h *httpClient) do(method, path string, body string, header map[string]string) (answer, error) {
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{Status: resp.StatusCode, Header: resp.Header, Body: map[string]any{}}
	if len(raw) > 0 && method != http.MethodHead {
		if err := json.Unmarshal(raw, &a.Body); err != nil {
			return answer{}, fmt.Errorf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return a, nil
}

// adminJSON calls the admin API.
func (h *httpClient) adminJSON(method, path, body string) (answer, error) {
	hdr := map[string]string{"Authorization": "Bearer " + h.admin}
	a, err := h.do(method, path, body, hdr)
	return a, err
}

// device is a registered device with its Ed25519 key.
type device struct {
	id   string
	priv ed25519.PrivateKey
}

// newDevice makes a device id and key pair.
func newDevice(id string) device {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return device{id: id, priv: priv}
}

// sign returns the HCP-Request-Signature header for body.
func (d device) sign(body string) map[string]string {
	return map[string]string{"HCP-Request-Signature": base64.StdEncoding.EncodeToString(ed25519.Sign(d.priv, []byte(body)))}
}

// register registers d with its public key and returns the device code.
func (h *httpClient) register(d device) (string, error) {
	form := url.Values{
		"client_id": {d.id}, "client_secret": {demoKey}, "client_type": {"desktop_client"},
		"response_type": {"device_code"}, "client_description": {"e2e " + d.id},
		"public_key": {base64.StdEncoding.EncodeToString(d.priv.Public().(ed25519.PublicKey))}, "key_type": {"ed25519"},
	}
	a, err := h.do("POST", "/oauth/v1/register", form.Encode(), nil)
	if err != nil {
		return "", err
	}
	if a.Status != 200 || a.str("device_code") == "" {
		return "", fmt.Errorf("register %s: %d %v", d.id, a.Status, a.Body)
	}
	return a.str("device_code"), nil
}

// trust registers d, approves it through the admin API and returns its
// device token answer (access_token, refresh_token).
func (h *httpClient) trust(d device) (answer, error) {
	code, err := h.register(d)
	if err != nil {
		return answer{}, err
	}
	if a, err := h.adminJSON("POST", "/admin/api/devices/"+d.id+"/approve", ""); err != nil || a.Status != 200 {
		return answer{}, fmt.Errorf("approve %s: %v %v", d.id, a.Status, err)
	}
	body := url.Values{"client_id": {d.id}, "client_secret": {demoKey}, "grant_type": {"device_code"}, "device_code": {code}}.Encode()
	a, err := h.do("POST", "/oauth/v1/token", body, d.sign(body))
	if err != nil {
		return answer{}, err
	}
	if a.Status != 200 || a.str("access_token") == "" {
		return answer{}, fmt.Errorf("device token for %s: %d %v", d.id, a.Status, a.Body)
	}
	return a, nil
}

// login logs user in with the device token.
func (h *httpClient) login(deviceToken, user, password string) (answer, error) {
	body := url.Values{"authtype": {"0"}, "userid": {user}, "password": {password}}.Encode()
	return h.do("POST", "/api/v1/login", body, map[string]string{"X-Api-Key": demoKey, "Authorization": "Bearer " + deviceToken})
}

// refreshUser refreshes a user token (client_id=api).
func (h *httpClient) refreshUser(refreshToken string) (answer, error) {
	body := url.Values{"client_id": {"api"}, "client_secret": {demoKey}, "grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}.Encode()
	return h.do("POST", "/oauth/v1/token", body, nil)
}

// call makes an authorized GET.
func (h *httpClient) call(path, userToken string) (answer, error) {
	return h.do("GET", path, "", map[string]string{"X-Api-Key": demoKey, "Authorization": "Bearer " + userToken})
}
