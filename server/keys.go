package server

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// findKeyLocked returns the key whose value is v, comparing in constant time
// against every key. s.mu must be held.
func (s *Server) findKeyLocked(v string) *apiKey {
	h := hashToken(v)
	var found *apiKey
	for _, k := range s.st.keys {
		if subtle.ConstantTimeCompare(h[:], k.valueHash[:]) == 1 {
			found = k
		}
	}
	return found
}

// remoteAddr is the connection's address (never X-Forwarded-For).
func remoteAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// usableKeyLocked checks that a key value names an active, unexpired key and
// that the caller's address is allowed. It returns the key or a reason.
func (s *Server) usableKeyLocked(r *http.Request, value string, now time.Time) (*apiKey, string) {
	if value == "" {
		return nil, "the API key is missing"
	}
	k := s.findKeyLocked(value)
	switch {
	case k == nil:
		return nil, "the API key is unknown"
	case !k.Active:
		return nil, "the API key is inactive"
	case !k.expires.IsZero() && !now.Before(k.expires):
		return nil, "the API key has expired"
	}
	if len(k.prefixes) > 0 {
		a, ok := remoteAddr(r)
		allowed := false
		for _, p := range k.prefixes {
			if ok && p.Contains(a) {
				allowed = true
			}
		}
		if !allowed {
			return nil, "the caller's address is not allowed for this API key"
		}
	}
	return k, ""
}

// apiKeyLocked checks X-Api-Key for a public API call to function fn.
func (s *Server) apiKeyLocked(r *http.Request, fn string, now time.Time) (*apiKey, *apiError) {
	vals := r.Header.Values("X-Api-Key")
	if len(vals) > 1 {
		return nil, errf(http.StatusBadRequest, "invalid_request", "X-Api-Key is given more than once")
	}
	v := ""
	if len(vals) == 1 {
		v = vals[0]
	}
	k, why := s.usableKeyLocked(r, v, now)
	if k == nil {
		return nil, errf(http.StatusForbidden, "invalid_api_key", "%s", why)
	}
	if len(k.Permissions) > 0 && !contains(k.Permissions, fn) {
		return nil, errf(http.StatusForbidden, "permission_denied", "the API key may not call %q", fn)
	}
	return k, nil
}

// bearer returns the bearer token of the Authorization header; present is
// false without the header.
func bearer(r *http.Request) (tok string, present bool, bad bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", false, false
	}
	if len(vals) > 1 {
		return "", true, true
	}
	scheme, rest, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true, true
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return "", true, true
	}
	return rest, true, false
}

// liveAccessLocked finds a live access token: its family, or nil.
func (s *Server) liveAccessLocked(tok string, now time.Time) *family {
	h := hashToken(tok)
	f := s.st.tokens[h]
	if f == nil {
		return nil
	}
	for i := range f.access {
		if f.access[i].hash == h {
			if toInstant(now) >= f.access[i].expires {
				return nil
			}
			return f
		}
	}
	return nil // a refresh token
}

// trustedDeviceLocked reports whether tok is a live device token of a trusted
// device.
func (s *Server) trustedDeviceLocked(tok string, now time.Time) bool {
	f := s.liveAccessLocked(tok, now)
	if f == nil || f.kind != familyDevice {
		return false
	}
	d := s.st.devices[f.owner.name]
	return d != nil && d.Status == statusTrusted
}

func invalidToken(desc string) *apiError {
	e := errf(http.StatusUnauthorized, "invalid_token", "%s", desc)
	e.header = map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}
	return e
}

// startFamilyLocked starts a token family for a login (kind user, owner a
// username) or a device-code exchange (kind device, owner a client_id) and
// issues its first tokens. When the owner already has s.maxFamilies, its
// oldest families end first; it returns the records of what changed.
func (s *Server) startFamilyLocked(kind famKind, owner, keyName string, now time.Time) (tokenJSON, []Record) {
	recs := s.capFamiliesLocked(kind, owner)
	f := &family{id: newFamID(), keyName: keyName, created: toInstant(now)}
	s.st.addFamily(f, kind, owner)
	tok := s.issueLocked(f, now)
	return tok, append(recs, familyRecord(f))
}

// issueLocked adds a new access and refresh token to f.
func (s *Server) issueLocked(f *family, now time.Time) tokenJSON {
	at, ah := newSecret()
	rt, rh := newSecret()
	f.access = append(f.access, accessEntry{hash: ah, expires: toInstant(now.Add(s.st.settings.AccessTokenTTL))})
	f.refresh = append(f.refresh, refreshEntry{hash: rh, expires: toInstant(now.Add(s.st.settings.RefreshTokenTTL))})
	s.st.tokens[ah] = f
	s.st.tokens[rh] = f
	s.st.prune(f, toInstant(now))
	return tokenJSON{
		TokenType:    "Bearer",
		ExpiresIn:    int64(s.st.settings.AccessTokenTTL / time.Second),
		AccessToken:  at,
		RefreshToken: rt,
	}
}

// tokenJSON is the protocol's Token.
type tokenJSON struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// revokeLocked deletes every family of a user or device; it returns the
// records.
func (s *Server) revokeLocked(kind famKind, owner string) []Record {
	var recs []Record
	for _, f := range s.st.ownerFamilies(kind, owner) {
		recs = append(recs, s.st.dropFamily(f))
	}
	return recs
}
