package server

import (
	"net/http"
	"time"
)

// pollInterval is the device-code polling interval (section 3.3).
const pollInterval = 5 * time.Second

// signatureHeader carries the request signature (section 3.2).
const signatureHeader = "HCP-Request-Signature"

var clientTypes = []string{"printer", "chrome_extension", "desktop_client", "mobile_device", "server"}

func invalidClient(desc string) *apiError {
	return errf(http.StatusUnauthorized, "invalid_client", "%s", desc)
}

func invalidGrant(desc string) *apiError {
	return errf(http.StatusBadRequest, "invalid_grant", "%s", desc)
}

// readOAuthForm reads the body (kept for signature checks) and parses it.
func readOAuthForm(r *http.Request) ([]byte, form, string, *apiError) {
	body, e := readBody(r)
	if e != nil {
		return nil, form{}, "", e
	}
	f, e := parseURLEncoded(r, body)
	if e != nil {
		return nil, form{}, "", e
	}
	sig, e := singleHeader(r, signatureHeader)
	if e != nil {
		return nil, form{}, "", e
	}
	return body, f, sig, nil
}

type registerAnswer struct {
	DeviceCode string `json:"device_code"`
	State      string `json:"state,omitempty"`
	ExpiresIn  int64  `json:"expires_in"`
	Interval   int64  `json:"interval"`
}

// register is POST /oauth/v1/register (section 3.1).
func (s *Server) register(r *http.Request) (int, any, *apiError) {
	body, f, sig, e := readOAuthForm(r)
	if e != nil {
		return 0, nil, e
	}
	p, e := f.fields("client_id!", "client_secret!", "client_type!", "response_type!", "client_description", "state", "public_key", "key_type")
	if e != nil {
		return 0, nil, e
	}
	if p["response_type"] != "device_code" {
		return 0, nil, errf(http.StatusBadRequest, "unsupported_response_type", "response_type must be device_code")
	}
	if !contains(clientTypes, p["client_type"]) {
		return 0, nil, errf(http.StatusBadRequest, "invalid_request", "client_type %q is not one of printer, chrome_extension, desktop_client, mobile_device, server", p["client_type"])
	}
	cid := p["client_id"]
	if cid == "api" || len(cid) > 256 || !printable(cid) {
		return 0, nil, errf(http.StatusBadRequest, "invalid_request", "client_id is reserved, too long, not UTF-8 or has control characters")
	}
	if len(p["client_description"]) > 1024 || len(p["state"]) > 1024 {
		return 0, nil, errf(http.StatusBadRequest, "invalid_request", "client_description and state are limited to 1024 bytes")
	}
	if e := checkName("client_description", p["client_description"]); e != nil {
		return 0, nil, e
	}
	if e := checkName("state", p["state"]); e != nil {
		return 0, nil, e
	}
	if (p["public_key"] == "") != (p["key_type"] == "") {
		return 0, nil, errf(http.StatusBadRequest, "invalid_request", "public_key and key_type go together")
	}
	var newKey []byte
	if p["public_key"] != "" {
		raw, err := decodeB64(p["public_key"])
		if err != nil {
			return 0, nil, errf(http.StatusBadRequest, "invalid_request", "public_key is not base64")
		}
		if _, err := parsePublicKey(p["key_type"], raw); err != nil {
			return 0, nil, errf(http.StatusBadRequest, "invalid_request", "public_key: %v", err)
		}
		newKey = raw
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	if k, why := s.usableKeyLocked(r, p["client_secret"], now); k == nil {
		return 0, nil, invalidClient(why)
	}
	d := s.st.devices[cid]
	signed := false
	switch {
	case d != nil && len(d.PublicKey) > 0:
		if sig == "" {
			return 0, nil, errf(http.StatusBadRequest, "invalid_request", "this device registered a key: the request must carry %s", signatureHeader)
		}
		if err := verifySignature(d.KeyType, d.PublicKey, body, sig); err != nil {
			return 0, nil, invalidClient("request signature: " + err.Error())
		}
		if err := certUsable(d.KeyType, d.PublicKey, now); err != nil {
			return 0, nil, invalidClient("the device's registered key: " + err.Error())
		}
		signed = true
	case sig != "" && newKey != nil:
		if err := verifySignature(p["key_type"], newKey, body, sig); err != nil {
			return 0, nil, invalidClient("request signature: " + err.Error())
		}
	}
	if newKey != nil {
		if err := certUsable(p["key_type"], newKey, now); err != nil {
			return 0, nil, errf(http.StatusBadRequest, "invalid_request", "public_key: %v", err)
		}
	}
	if d == nil {
		if s.pendingDevicesLocked() >= s.maxPending {
			return 0, nil, errf(http.StatusTooManyRequests, "too_many_pending_devices", "too many devices are waiting for approval; try again later")
		}
		d = &device{ClientID: cid, Status: statusPending}
		s.st.devices[cid] = d
	} else {
		if !signed {
			d.Status = statusPending
		}
		if len(d.CodeHash) == 32 {
			delete(s.st.codes, [32]byte(d.CodeHash))
		}
	}
	d.ClientType = p["client_type"]
	if f.has("client_description") {
		d.Description = p["client_description"]
	}
	if newKey != nil {
		d.KeyType, d.PublicKey = p["key_type"], newKey
	}
	d.RegisteredAt = now
	code, h := newSecret()
	d.CodeHash, d.CodeExpires, d.CodeUsed, d.polled = h[:], now.Add(s.st.settings.DeviceCodeTTL), false, false
	s.st.codes[h] = cid
	s.queueLocked(deviceRecord(d))
	return http.StatusOK, registerAnswer{
		DeviceCode: code,
		State:      p["state"],
		ExpiresIn:  int64(s.st.settings.DeviceCodeTTL / time.Second),
		Interval:   int64(pollInterval / time.Second),
	}, nil
}

func storeErr() *apiError {
	return errf(http.StatusServiceUnavailable, "temporarily_unavailable", "the state could not be stored; try again")
}

// token is POST /oauth/v1/token (sections 3.3 and 3.4).
func (s *Server) token(r *http.Request) (int, any, *apiError) {
	body, f, sig, e := readOAuthForm(r)
	if e != nil {
		return 0, nil, e
	}
	grant, e := f.required("grant_type")
	if e != nil {
		return 0, nil, e
	}
	var codeField string
	switch grant {
	case "device_code":
		codeField = "device_code"
	case "refresh_token":
		codeField = "refresh_token"
	default:
		return 0, nil, errf(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be device_code or refresh_token")
	}
	p, e := f.fields("client_id!", "client_secret!", codeField+"!")
	if e != nil {
		return 0, nil, e
	}
	if e := checkName("client_id", p["client_id"]); e != nil {
		return 0, nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	key, why := s.usableKeyLocked(r, p["client_secret"], now)
	if key == nil {
		return 0, nil, invalidClient(why)
	}
	// A device that registered a key signs every token request.
	checkSig := func(d *device) *apiError {
		if d == nil || len(d.PublicKey) == 0 {
			return nil
		}
		if sig == "" {
			return errf(http.StatusBadRequest, "invalid_request", "this device registered a key: the request must carry %s", signatureHeader)
		}
		if err := verifySignature(d.KeyType, d.PublicKey, body, sig); err != nil {
			return invalidClient("request signature: " + err.Error())
		}
		if err := certUsable(d.KeyType, d.PublicKey, now); err != nil {
			return invalidClient("the device's registered key: " + err.Error())
		}
		return nil
	}
	if grant == "device_code" {
		return s.deviceCodeGrantLocked(p, key, now, checkSig)
	}
	return s.refreshGrantLocked(p, key, now, checkSig)
}

func (s *Server) deviceCodeGrantLocked(p map[string]string, key *apiKey, now time.Time, checkSig func(*device) *apiError) (int, any, *apiError) {
	cid := p["client_id"]
	if e := checkSig(s.st.devices[cid]); e != nil {
		return 0, nil, e
	}
	owner, ok := s.st.codes[hashToken(p["device_code"])]
	d := s.st.devices[owner]
	if !ok || d == nil || owner != cid {
		return 0, nil, invalidGrant("unknown device code")
	}
	if d.CodeUsed {
		return 0, nil, invalidGrant("the device code was already exchanged")
	}
	if !now.Before(d.CodeExpires) {
		return 0, nil, errf(http.StatusBadRequest, "expired_token", "the device code has expired; register again")
	}
	if d.Status == statusRefused {
		return 0, nil, errf(http.StatusBadRequest, "access_denied", "the administrator refused this device")
	}
	real := s.baseNow()
	if d.polled {
		elapsed := real.Sub(d.lastPollReal) + (s.st.offset - d.lastPollOffset)
		d.lastPollReal, d.lastPollOffset = real, s.st.offset
		if elapsed < pollInterval {
			return 0, nil, errf(http.StatusBadRequest, "slow_down", "polled faster than every %s; add 5s to the interval", pollInterval)
		}
	}
	d.polled, d.lastPollReal, d.lastPollOffset = true, real, s.st.offset
	if d.Status == statusPending {
		if !key.AutoTrust {
			return 0, nil, errf(http.StatusBadRequest, "authorization_pending", "waiting for an administrator to approve the device")
		}
		d.Status = statusTrusted
	}
	d.CodeUsed = true
	tok, recs := s.startFamilyLocked(familyDevice, d.ClientID, key.Name, now)
	s.queueLocked(append(recs, deviceRecord(d))...)
	return http.StatusOK, tok, nil
}

func (s *Server) refreshGrantLocked(p map[string]string, key *apiKey, now time.Time, checkSig func(*device) *apiError) (int, any, *apiError) {
	h := hashToken(p["refresh_token"])
	f := s.st.tokens[h]
	idx := -1
	if f != nil {
		for i := range f.refresh {
			if f.refresh[i].hash == h {
				idx = i
			}
		}
	}
	if idx < 0 {
		return 0, nil, invalidGrant("unknown, expired or revoked refresh token")
	}
	switch f.kind {
	case familyUser:
		if p["client_id"] != "api" {
			return 0, nil, invalidGrant("a user token is refreshed with client_id api")
		}
		if f.keyName != key.Name {
			return 0, nil, invalidGrant("the refresh token belongs to another API key")
		}
	case familyDevice:
		if p["client_id"] != f.owner.name {
			return 0, nil, invalidGrant("the refresh token belongs to another client_id")
		}
		d := s.st.devices[f.owner.name]
		if d == nil {
			return 0, nil, invalidGrant("the device is no longer trusted; register again")
		}
		if e := checkSig(d); e != nil {
			return 0, nil, e
		}
	}
	if toInstant(now) >= f.refresh[idx].expires {
		return 0, nil, invalidGrant("unknown, expired or revoked refresh token")
	}
	// Reuse is judged before the device's trust: a spent token revokes its
	// family also while the device waits for approval again (3.4).
	spent := f.refresh[idx].spent
	if spent != 0 {
		grace := s.st.settings.RefreshGrace
		if grace <= 0 || now.Sub(spent.time()) > grace {
			rec := s.st.dropFamily(f)
			s.queueLocked(rec)
			s.log.Warn("refresh token reuse: family revoked", "family", f.id.String(), "kind", f.kind.String())
			return 0, nil, invalidGrant("the refresh token was already used; every token of this login was revoked")
		}
	}
	if f.kind == familyDevice && s.st.devices[f.owner.name].Status != statusTrusted {
		return 0, nil, invalidGrant("the device is no longer trusted; register again")
	}
	if spent == 0 {
		f.refresh[idx].spent = toInstant(now)
	}
	tok := s.issueLocked(f, now)
	s.queueLocked(familyRecord(f))
	return http.StatusOK, tok, nil
}

// pendingDevicesLocked counts the devices waiting for approval (only when
// there are enough devices for the count to matter).
func (s *Server) pendingDevicesLocked() int {
	if len(s.st.devices) < s.maxPending {
		return len(s.st.devices)
	}
	n := 0
	for _, d := range s.st.devices {
		if d.Status == statusPending {
			n++
		}
	}
	return n
}
