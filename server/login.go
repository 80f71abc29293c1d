package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Login throttling (in memory only): throttleMax failures for one userid
// within throttleWindow block further attempts until the window passes.
const (
	throttleMax    = 5
	throttleWindow = 15 * time.Minute
)

// maxThrottledIDs bounds the user IDs with failures remembered at once: the IDs
// are the caller's choice, so without a bound the table grows with every
// made-up one. When it is full the expired entries go, then, if still
// full, a random half; an attacker who floods it to clear someone's count
// pays tens of thousands of requests for each 5 guesses.
const maxThrottledIDs = 100000

// Authentication types of /api/v1/login (section 4).
const (
	authPassword = 0
	authCard     = 1
	authShortID  = 2
	authUsername = 3
	authEmail    = 4
)

type loginAnswer struct {
	Token tokenJSON `json:"token"`
}

// login is GET or POST /api/v1/login.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	v, e := s.doLogin(r)
	if e != nil {
		writeErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) doLogin(r *http.Request) (any, *apiError) {
	var f form
	var e *apiError
	if r.Method == http.MethodPost {
		body, e := readBody(r)
		if e != nil {
			return nil, e
		}
		if f, e = parseURLEncoded(r, body); e != nil {
			return nil, e
		}
		if r.URL.RawQuery != "" {
			return nil, errf(http.StatusBadRequest, "invalid_request", "a POST login takes its fields in the body, not the query")
		}
	} else if f, e = parseQuery(r.URL.RawQuery); e != nil {
		return nil, e
	}
	p, e := f.fields("authtype!", "userid!", "password")
	if e != nil {
		return nil, e
	}
	authtype, err := strconv.Atoi(p["authtype"])
	if err != nil || authtype < authPassword || authtype > authEmail || len(p["authtype"]) > 1 {
		return nil, errf(http.StatusBadRequest, "invalid_request", "authtype must be 0 to 4")
	}
	if authtype == authPassword && !f.has("password") {
		return nil, errf(http.StatusBadRequest, "invalid_request", "password is required with authtype 0")
	}
	userid := p["userid"]
	if len(userid) > 256 || len(p["password"]) > 1024 {
		return nil, errf(http.StatusBadRequest, "invalid_request", "userid or password too long")
	}
	if e := checkName("userid", userid); e != nil {
		return nil, e
	}
	tok, present, bad := bearer(r)

	key, u, hash, e := s.loginChecks(r, authtype, userid, tok, present, bad)
	if e != nil {
		return nil, e
	}

	throttleID := strings.ToLower(userid)
	ok := u != nil
	if authtype == authPassword {
		// Compare outside the lock; an unknown user costs the same time.
		if hash == nil {
			_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(p["password"]))
			ok = false
		} else {
			ok = ok && bcrypt.CompareHashAndPassword(hash, []byte(p["password"])) == nil
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	if !ok {
		if _, known := s.st.throttle[throttleID]; !known && len(s.st.throttle) >= s.maxThrottled {
			s.shrinkThrottleLocked(now)
		}
		s.st.throttle[throttleID] = append(s.st.throttle[throttleID], now)
		return nil, errf(http.StatusUnauthorized, "invalid_credentials", "the user ID or the password is wrong")
	}
	if cur := s.st.users[u.Username]; cur == nil || string(cur.PasswordHash) != string(hash) {
		// Deleted or changed while we compared.
		return nil, errf(http.StatusUnauthorized, "invalid_credentials", "the user ID or the password is wrong")
	}
	delete(s.st.throttle, throttleID)
	t, recs := s.startFamilyLocked(familyUser, u.Username, key.Name, now)
	s.queueLocked(recs...)
	return loginAnswer{Token: t}, nil
}

// loginChecks runs the checks before the password comparison: key, device
// token, credential kind and throttling. It returns the user (nil if unknown)
// and the password hash to compare.
func (s *Server) loginChecks(r *http.Request, authtype int, userid, tok string, present, bad bool) (*apiKey, *user, []byte, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	key, e := s.apiKeyLocked(r, "login", now)
	if e != nil {
		return nil, nil, nil, e
	}
	trusted := present && !bad && s.trustedDeviceLocked(tok, now)
	if !key.AllowUntrusted {
		if !present {
			return nil, nil, nil, errf(http.StatusForbidden, "device_token_required", "this API key needs the device token of a trusted device (Authorization: Bearer)")
		}
		if !trusted {
			return nil, nil, nil, errf(http.StatusForbidden, "untrusted_device", "the bearer token is not a live device token of a trusted device")
		}
	}
	switch authtype {
	case authCard, authShortID:
		if !key.AllowUnauthenticated && !trusted {
			return nil, nil, nil, errf(http.StatusForbidden, "insecure_credentials_not_allowed", "card and short IDs need a trusted device or a key that allows unauthenticated requests")
		}
	case authUsername, authEmail:
		if !key.AllowUnauthenticated {
			return nil, nil, nil, errf(http.StatusForbidden, "insecure_credentials_not_allowed", "this API key does not allow insecure credentials")
		}
	}
	if wait := s.throttledLocked(strings.ToLower(userid), now); wait > 0 {
		e := errf(http.StatusTooManyRequests, "too_many_attempts", "too many failed logins; retry later")
		e.header = map[string]string{"Retry-After": strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10)}
		return nil, nil, nil, e
	}
	u := s.findUserLocked(authtype, userid)
	if u == nil {
		return key, nil, nil, nil
	}
	return key, u, u.PasswordHash, nil
}

// shrinkThrottleLocked makes room in the full throttle table: it drops the
// entries whose window has passed, then, if that is not enough, entries at
// random (map order) until it is half full.
func (s *Server) shrinkThrottleLocked(now time.Time) {
	for id, fails := range s.st.throttle {
		if len(fails) == 0 || now.Sub(fails[len(fails)-1]) >= throttleWindow {
			delete(s.st.throttle, id)
		}
	}
	for id := range s.st.throttle {
		if len(s.st.throttle) <= s.maxThrottled/2 {
			break
		}
		delete(s.st.throttle, id)
	}
}

// throttledLocked returns how long userid must still wait, or 0.
func (s *Server) throttledLocked(id string, now time.Time) time.Duration {
	fails := s.st.throttle[id]
	keep := fails[:0]
	for _, t := range fails {
		if now.Sub(t) < throttleWindow {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		delete(s.st.throttle, id)
		return 0
	}
	s.st.throttle[id] = keep
	if len(keep) < throttleMax {
		return 0
	}
	return keep[len(keep)-throttleMax].Add(throttleWindow).Sub(now)
}

func (s *Server) findUserLocked(authtype int, id string) *user {
	if authtype == authPassword || authtype == authUsername {
		return s.st.users[id]
	}
	for _, u := range s.st.users {
		switch authtype {
		case authCard:
			if u.CardID != "" && u.CardID == id {
				return u
			}
		case authShortID:
			if u.ShortID != "" && u.ShortID == id {
				return u
			}
		case authEmail:
			if u.Email != "" && strings.EqualFold(u.Email, id) {
				return u
			}
		}
	}
	return nil
}
