package broken

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/paragon-cli/paragon/client"
)

// The embedded reference server's keys (scenarios.DemoAPIKey and
// scenarios.EmbeddedSecondAPIKey; this package cannot import scenarios,
// whose tests use it).
const (
	demoKey   = "paragon-dev-key"
	secondKey = "paragon-second-key"
)

// The variants the built-in suite's test (scenarios/broken_test.go) was
// written against first.

// LoginWithoutDeviceToken is a server that lets a login without a
// device token through: it registers and approves a device behind the
// client's back and injects that device's token.
func LoginWithoutDeviceToken(h http.Handler, adminToken string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/login" && r.Header.Get("Authorization") == "" {
			id := client.NewDeviceID()
			key := r.Header.Get("X-Api-Key")
			form := url.Values{"client_id": {id}, "client_secret": {key}, "client_type": {"server"}, "response_type": {"device_code"}}
			rec := Inner(h, "POST", "/oauth/v1/register", "application/x-www-form-urlencoded", "", form.Encode())
			var reg struct {
				DeviceCode string `json:"device_code"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &reg)
			if reg.DeviceCode != "" {
				Inner(h, "POST", "/admin/api/devices/"+id+"/approve", "", "Bearer "+adminToken, "")
				form = url.Values{"client_id": {id}, "client_secret": {key}, "grant_type": {"device_code"}, "device_code": {reg.DeviceCode}}
				rec = Inner(h, "POST", "/oauth/v1/token", "application/x-www-form-urlencoded", "", form.Encode())
				var tok struct {
					AccessToken string `json:"access_token"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &tok)
				if tok.AccessToken != "" {
					r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// KeepsRefreshToken is a server that does not rotate refresh tokens: a
// refresh answers with the refresh token the client presented (it keeps the
// real one to itself), so the same token works for ever.
func KeepsRefreshToken(h http.Handler, _ string) http.Handler {
	var mu sync.Mutex
	real := map[string]string{} // token the client holds → the server's current one
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/v1/token" || r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		body := PeekBody(r)
		f, _ := url.ParseQuery(string(body))
		if f.Get("grant_type") != "refresh_token" {
			h.ServeHTTP(w, r)
			return
		}
		held := f.Get("refresh_token")
		mu.Lock()
		cur, mapped := real[held]
		mu.Unlock()
		nb := string(body)
		req := r.Clone(r.Context())
		if mapped {
			f.Set("refresh_token", cur)
			nb = f.Encode()
			req.Header.Del("HCP-Request-Signature") // the body changed: this server takes it unsigned
		}
		SetBody(req, []byte(nb))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		var tok map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(out, &tok) == nil {
			mu.Lock()
			real[held] = tok["refresh_token"].(string)
			mu.Unlock()
			tok["refresh_token"] = held
			out, _ = json.Marshal(tok)
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

// NoWWWAuthenticate drops the WWW-Authenticate header (an [ours] detail).
func NoWWWAuthenticate(h http.Handler, _ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(headerDropper{w}, r)
	})
}

type headerDropper struct{ http.ResponseWriter }

func (d headerDropper) WriteHeader(code int) {
	d.Header().Del("WWW-Authenticate")
	d.ResponseWriter.WriteHeader(code)
}

// ForbiddenNotUnauthorized answers 403 where the reference server answers
// 401 for an expired, revoked or unknown token: a plausible alternative the
// contract names (section 5).
func ForbiddenNotUnauthorized(h http.Handler, _ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(tokenStatusRewriter{w}, r)
	})
}

type tokenStatusRewriter struct{ http.ResponseWriter }

func (s tokenStatusRewriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized && strings.Contains(s.Header().Get("WWW-Authenticate"), "invalid_token") {
		code = http.StatusForbidden
	}
	s.ResponseWriter.WriteHeader(code)
}

// IgnoresKeyBinding accepts a user token with any key of the account: calls
// and user-token refreshes with the second key are passed on with the key
// used at login.
func IgnoresKeyBinding(h http.Handler, _ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/login" && r.Header.Get("Authorization") != "" && r.Header.Get("X-Api-Key") == secondKey {
			r.Header.Set("X-Api-Key", demoKey)
		}
		if r.URL.Path == "/oauth/v1/token" {
			f, _ := url.ParseQuery(string(PeekBody(r)))
			if f.Get("client_id") == "api" && f.Get("client_secret") == secondKey {
				f.Set("client_secret", demoKey)
				SetBody(r, []byte(f.Encode()))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// AcceptsInsecureLogin lets every kind of credential log in as if the key
// allowed unauthenticated requests: it switches that on around each login
// with another authtype than 0 (the device-token rule still applies).
func AcceptsInsecureLogin(h http.Handler, adminToken string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/login" {
			h.ServeHTTP(w, r)
			return
		}
		f, _ := url.ParseQuery(string(PeekBody(r)))
		if at := f.Get("authtype") + r.URL.Query().Get("authtype"); at == "" || at == "0" {
			h.ServeHTTP(w, r)
			return
		}
		keys := Inner(h, "GET", "/admin/api/keys", "", "Bearer "+adminToken, "")
		var list struct {
			Items []struct {
				Name                 string `json:"name"`
				Value                string `json:"value"`
				AllowUnauthenticated bool   `json:"allow_unauthenticated"`
			} `json:"items"`
		}
		_ = json.Unmarshal(keys.Body.Bytes(), &list)
		for _, k := range list.Items {
			if k.Value == r.Header.Get("X-Api-Key") && !k.AllowUnauthenticated {
				Inner(h, "PATCH", "/admin/api/keys/"+k.Name, "application/json", "Bearer "+adminToken, `{"allow_unauthenticated":true}`)
				defer Inner(h, "PATCH", "/admin/api/keys/"+k.Name, "application/json", "Bearer "+adminToken, `{"allow_unauthenticated":false}`)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// IgnoresKeyField is a server that accepts a change to a key's field through
// the admin API but never applies it (as if the feature did not exist).
func IgnoresKeyField(field string) func(http.Handler, string) http.Handler {
	return func(h http.Handler, _ string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/admin/api/keys/") {
				var patch map[string]any
				if json.Unmarshal(PeekBody(r), &patch) == nil {
					delete(patch, field)
					body, _ := json.Marshal(patch)
					SetBody(r, body)
				}
			}
			h.ServeHTTP(w, r)
		})
	}
}

// TrustsEveryDevice approves every device as soon as it registers, as if
// automatic endpoint trust were always on.
func TrustsEveryDevice(h http.Handler, adminToken string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/v1/register" {
			h.ServeHTTP(w, r)
			return
		}
		body := PeekBody(r)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			f, _ := url.ParseQuery(string(body))
			Inner(h, "POST", "/admin/api/devices/"+url.PathEscape(f.Get("client_id"))+"/approve", "", "Bearer "+adminToken, "")
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}
