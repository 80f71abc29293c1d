// Package broken holds deliberately broken variants of the reference
// server, each a wrapper around its handler, for the tests that prove the
// compliance suite and `scenario explore` find what they break.
package broken

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Inner calls the wrapped handler in process and returns the recorded answer.
func Inner(h http.Handler, method, target, ctype, auth, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:1"
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// PeekBody reads r's body and puts it back, so the wrapped server still
// reads it whole.
func PeekBody(r *http.Request) []byte {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body
}

// SetBody replaces r's body with body.
func SetBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
}

// copyTo writes a recorded answer to w.
func copyTo(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// form is the request's form body (without consuming it) when it is a POST
// to path.
func form(r *http.Request, path string) (url.Values, bool) {
	if r.URL.Path != path || r.Method != http.MethodPost {
		return nil, false
	}
	f, err := url.ParseQuery(string(PeekBody(r)))
	return f, err == nil
}

// admin is a JSON admin API call on the wrapped handler.
func admin(h http.Handler, token, method, path, body string) *httptest.ResponseRecorder {
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	return Inner(h, method, path, ctype, "Bearer "+token, body)
}

// setting reads one of the account's settings (a Go duration).
func setting(h http.Handler, token, name string) time.Duration {
	var v map[string]any
	_ = json.Unmarshal(admin(h, token, "GET", "/admin/api/settings", "").Body.Bytes(), &v)
	s, _ := v[name].(string)
	d, _ := time.ParseDuration(s)
	return d
}

// now reads the server's clock.
func now(h http.Handler, token string) time.Time {
	var v struct {
		Now time.Time `json:"now"`
	}
	_ = json.Unmarshal(admin(h, token, "GET", "/admin/api/clock", "").Body.Bytes(), &v)
	return v.Now
}

// withGrace serves r with the refresh grace set to g, then puts it back.
// Callers hold mu, so no two of them interleave.
func withGrace(h http.Handler, token string, g time.Duration, w http.ResponseWriter, r *http.Request) {
	old := setting(h, token, "refresh_grace")
	admin(h, token, "PATCH", "/admin/api/settings", `{"refresh_grace":"`+g.String()+`"}`)
	defer admin(h, token, "PATCH", "/admin/api/settings", `{"refresh_grace":"`+old.String()+`"}`)
	h.ServeHTTP(w, r)
}

// RacyRefresh checks a refresh token, pauses, then rotates it: a second
// refresh of the same token that arrives during the pause also succeeds
// (check-then-act), so a client that retries gets two live pairs. One at a
// time, it is correct.
func RacyRefresh(h http.Handler, token string) http.Handler {
	var mu sync.Mutex
	inflight := map[string]chan struct{}{}
	var serial sync.Mutex // the grace trick changes a setting: one at a time
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := form(r, "/oauth/v1/token")
		if !ok || f.Get("grant_type") != "refresh_token" {
			h.ServeHTTP(w, r)
			return
		}
		rt := f.Get("refresh_token")
		mu.Lock()
		first, busy := inflight[rt]
		if !busy {
			first = make(chan struct{})
			inflight[rt] = first
		}
		mu.Unlock()
		if busy {
			// the check passed before the first one acted: act as if the
			// token were still live
			<-first
			serial.Lock()
			defer serial.Unlock()
			withGrace(h, token, 1000*time.Hour, w, r)
			return
		}
		time.Sleep(20 * time.Millisecond) // between the check and the act
		serial.Lock()
		h.ServeHTTP(w, r)
		serial.Unlock()
		mu.Lock()
		delete(inflight, rt)
		mu.Unlock()
		close(first)
	})
}

// GraceNeverEnds lets a spent refresh token work for ever once the account
// has any refresh grace: the grace window is never closed.
func GraceNeverEnds(h http.Handler, token string) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := form(r, "/oauth/v1/token")
		if !ok || f.Get("grant_type") != "refresh_token" {
			h.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if setting(h, token, "refresh_grace") <= 0 {
			h.ServeHTTP(w, r)
			return
		}
		withGrace(h, token, 1000*time.Hour, w, r)
	})
}

// ReuseSparesDeviceFamily revokes only user families on reuse: a spent
// device refresh token presented again is refused, but the device's family
// lives on.
func ReuseSparesDeviceFamily(h http.Handler, token string) http.Handler {
	var mu sync.Mutex
	spentAt := map[string]time.Time{} // spent device refresh tokens, when
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := form(r, "/oauth/v1/token")
		if !ok || f.Get("grant_type") != "refresh_token" || f.Get("client_id") == "api" {
			h.ServeHTTP(w, r)
			return
		}
		rt := f.Get("refresh_token")
		mu.Lock()
		defer mu.Unlock()
		if at, spent := spentAt[rt]; spent && now(h, token).Sub(at) >= setting(h, token, "refresh_grace") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token already used"}`))
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			if _, spent := spentAt[rt]; !spent {
				spentAt[rt] = now(h, token)
			}
		}
		copyTo(w, rec)
	})
}

// SpentCodeRevives lets a device code that was exchanged work again after
// its device registers anew: the server looks the old code up and finds the
// device's new one.
func SpentCodeRevives(h http.Handler, _ string) http.Handler {
	var mu sync.Mutex
	spent := map[string]string{}  // exchanged device code → client id
	latest := map[string]string{} // client id → its newest device code
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, ok := form(r, "/oauth/v1/register"); ok {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var v struct {
				DeviceCode string `json:"device_code"`
			}
			if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &v) == nil {
				mu.Lock()
				latest[f.Get("client_id")] = v.DeviceCode
				mu.Unlock()
			}
			copyTo(w, rec)
			return
		}
		f, ok := form(r, "/oauth/v1/token")
		if !ok || f.Get("grant_type") != "device_code" {
			h.ServeHTTP(w, r)
			return
		}
		code, id := f.Get("device_code"), f.Get("client_id")
		mu.Lock()
		if spent[code] == id && latest[id] != code && latest[id] != "" {
			f.Set("device_code", latest[id])
			SetBody(r, []byte(f.Encode()))
			r.Header.Del("HCP-Request-Signature") // the body changed: this server takes it unsigned
		}
		mu.Unlock()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			mu.Lock()
			spent[code] = id
			mu.Unlock()
		}
		copyTo(w, rec)
	})
}

// AccessOutlivesRevocation checks a user access token once and then
// remembers the answer until the token's lifetime ends (a validation
// cache): revoking the family does not stop a token already seen.
func AccessOutlivesRevocation(h http.Handler, token string) http.Handler {
	type entry struct {
		status int
		body   []byte
		header http.Header
	}
	var mu sync.Mutex
	expiry := map[string]time.Time{} // access token → end of its lifetime
	cache := map[string]entry{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if r.URL.Path == "/api/v1/login" || r.URL.Path == "/oauth/v1/token" {
			// learn each access token's lifetime from the answer that gives it
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var v struct {
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
				Token       *struct {
					AccessToken string `json:"access_token"`
					ExpiresIn   int    `json:"expires_in"`
				} `json:"token"`
			}
			if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &v) == nil {
				if v.Token != nil {
					v.AccessToken, v.ExpiresIn = v.Token.AccessToken, v.Token.ExpiresIn
				}
				mu.Lock()
				expiry[v.AccessToken] = now(h, token).Add(time.Duration(v.ExpiresIn) * time.Second)
				mu.Unlock()
			}
			copyTo(w, rec)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/api/v1/") || auth == "" || r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		k := auth + " " + r.Header.Get("X-Api-Key") + " " + r.URL.RequestURI()
		mu.Lock()
		defer mu.Unlock()
		if e, ok := cache[k]; ok && now(h, token).Before(expiry[auth]) {
			for k, v := range e.header {
				w.Header()[k] = v
			}
			w.WriteHeader(e.status)
			_, _ = w.Write(e.body)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			cache[k] = entry{status: rec.Code, body: rec.Body.Bytes(), header: rec.Header().Clone()}
		}
		copyTo(w, rec)
	})
}
