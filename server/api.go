package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// caller is who makes a public API call: the key and the user (nil when the
// key allows unauthenticated requests and no token was given).
type caller struct {
	key  *apiKey
	user *user
}

// authLocked checks the key, its permission for fn and the user token.
func (s *Server) authLocked(r *http.Request, fn string, now time.Time) (caller, *apiError) {
	key, e := s.apiKeyLocked(r, fn, now)
	if e != nil {
		return caller{}, e
	}
	tok, present, bad := bearer(r)
	if !present {
		if key.AllowUnauthenticated {
			return caller{key: key}, nil
		}
		return caller{}, errf(http.StatusForbidden, "token_required", "this call needs Authorization: Bearer <user token>")
	}
	if bad {
		return caller{}, invalidToken("the Authorization header is not a single bearer token")
	}
	f := s.liveAccessLocked(tok, now)
	if f == nil {
		return caller{}, invalidToken("the token is expired, revoked or unknown")
	}
	if f.kind == familyDevice {
		e := errf(http.StatusForbidden, "insufficient_scope", "a device token only serves to log in; use a user token")
		e.header = map[string]string{"WWW-Authenticate": `Bearer error="insufficient_scope"`}
		return caller{}, e
	}
	if f.keyName != key.Name {
		return caller{}, errf(http.StatusForbidden, "key_mismatch", "the user token was obtained with another API key")
	}
	u := s.st.users[f.owner.name]
	if u == nil {
		return caller{}, invalidToken("the token's user no longer exists")
	}
	return caller{key: key, user: u}, nil
}

// versionAnswer is the answer of GET /api/v1/version, encoded once: the
// most frequent authorized call spends nothing on it. It is held as an
// interface value so that returning it does not box the slice again (an
// allocation per call).
var versionAnswer any = jsonBytes(mustJSON(struct {
	APIVersion string `json:"apiVersion"`
	Product    string `json:"product"`
	Version    string `json:"version"`
}{"v1", "paragon reference server", Version}))

func (s *Server) version(*http.Request, caller, time.Time) (int, any, *apiError) {
	return http.StatusOK, versionAnswer, nil
}

func (s *Server) account(_ *http.Request, _ caller, now time.Time) (int, any, *apiError) {
	return http.StatusOK, map[string]any{
		"name":       "paragon reference account",
		"users":      len(s.st.users),
		"serverTime": now.UTC().Format(time.RFC3339),
	}, nil
}

type userJSON struct {
	Username string `json:"username"`
	FullName string `json:"fullName,omitempty"`
	Email    string `json:"email,omitempty"`
	Admin    bool   `json:"admin"`
}

func toUserJSON(u *user) userJSON {
	return userJSON{Username: u.Username, FullName: u.FullName, Email: u.Email, Admin: u.Admin}
}

func (s *Server) sortedUsersLocked() []*user {
	out := make([]*user, 0, len(s.st.users))
	for _, u := range s.st.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out
}

func (s *Server) usersAll(r *http.Request, _ caller, _ time.Time) (int, any, *apiError) {
	f, e := parseQuery(r.URL.RawQuery)
	if e != nil {
		return 0, nil, e
	}
	max, e := intField(f, "maxrecords", 1000, 1, 100000)
	if e != nil {
		return 0, nil, e
	}
	items := []userJSON{}
	for _, u := range s.sortedUsersLocked() {
		if len(items) >= max {
			break
		}
		items = append(items, toUserJSON(u))
	}
	return http.StatusOK, map[string]any{"items": items}, nil
}

func (s *Server) usersGet(r *http.Request, _ caller, _ time.Time) (int, any, *apiError) {
	f, e := parseQuery(r.URL.RawQuery)
	if e != nil {
		return 0, nil, e
	}
	name, e := f.required("username")
	if e != nil {
		return 0, nil, e
	}
	if e := checkName("username", name); e != nil {
		return 0, nil, e
	}
	items := []userJSON{}
	if u := s.st.users[name]; u != nil {
		items = append(items, toUserJSON(u))
	}
	return http.StatusOK, map[string]any{"items": items}, nil
}

// intField reads an optional integer field within [lo, hi].
func intField(f form, name string, def, lo, hi int) (int, *apiError) {
	v, e := f.one(name)
	if e != nil {
		return 0, e
	}
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errf(http.StatusBadRequest, "invalid_request", "%s must be a number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// parseAnyForm parses a urlencoded or multipart body (fields only).
func parseAnyForm(r *http.Request) (form, *multipart.Form, *apiError) {
	body, e := readBody(r)
	if e != nil {
		return form{}, nil, e
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == "multipart/form-data" && params["boundary"] != "" {
		mf, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(2 * maxBody)
		if err != nil {
			return form{}, nil, errf(http.StatusBadRequest, "invalid_request", "the multipart body is malformed")
		}
		f, e := newForm(mf.Value)
		if e != nil {
			_ = mf.RemoveAll()
			return form{}, nil, e
		}
		return f, mf, nil
	}
	f, e := parseURLEncoded(r, body)
	return f, nil, e
}

type newUser struct {
	u        user
	password string
}

// Detail types of PUT /api/v1/users.
var detailTypes = map[string]string{"0": "full name", "1": "email", "3": "password", "4": "card ID", "5": "short ID"}

func (s *Server) parseNewUser(r *http.Request) (any, *apiError) {
	f, mf, e := parseAnyForm(r)
	if e != nil {
		return nil, e
	}
	if mf != nil {
		defer func() { _ = mf.RemoveAll() }()
	}
	name, e := f.required("username")
	if e != nil {
		return nil, e
	}
	if err := validUsername(name); err != nil {
		return nil, errf(http.StatusBadRequest, "invalid_request", "%v", err)
	}
	types, datas := f.v["detailtype"], f.v["detaildata"]
	if len(types) != len(datas) {
		return nil, errf(http.StatusBadRequest, "invalid_request", "detailtype and detaildata must come in pairs")
	}
	nu := &newUser{u: user{Username: name}}
	seen := map[string]bool{}
	for i, t := range types {
		if _, ok := detailTypes[t]; !ok {
			return nil, errf(http.StatusBadRequest, "invalid_request", "detailtype %q is not 0, 1, 3, 4 or 5", t)
		}
		if seen[t] {
			return nil, errf(http.StatusBadRequest, "invalid_request", "detailtype %s is given more than once", t)
		}
		seen[t] = true
		d := datas[i]
		if len(d) > 1024 || !printable(d) {
			return nil, errf(http.StatusBadRequest, "invalid_request", "detaildata is too long or has control characters")
		}
		switch t {
		case "0":
			nu.u.FullName = d
		case "1":
			nu.u.Email = d
		case "3":
			if len(d) > 72 {
				return nil, errf(http.StatusBadRequest, "invalid_request", "the password is longer than 72 bytes")
			}
			nu.password = d
		case "4":
			nu.u.CardID = d
		case "5":
			nu.u.ShortID = d
		}
	}
	if nu.password != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(nu.password), s.cost)
		if err != nil {
			return nil, errf(http.StatusBadRequest, "invalid_request", "the password cannot be used")
		}
		nu.u.PasswordHash = h
	}
	return nu, nil
}

func (s *Server) createUser(r *http.Request, c caller, _ time.Time) (int, any, *apiError) {
	nu := argOf(r.Context()).(*newUser)
	if c.user == nil || !c.user.Admin {
		return 0, nil, errf(http.StatusForbidden, "forbidden", "only an administrator may create users")
	}
	if s.st.users[nu.u.Username] != nil {
		return 0, nil, errf(http.StatusConflict, "user_exists", "user %q already exists", nu.u.Username)
	}
	for _, o := range s.st.users {
		if (nu.u.CardID != "" && o.CardID == nu.u.CardID) || (nu.u.ShortID != "" && o.ShortID == nu.u.ShortID) ||
			(nu.u.Email != "" && strings.EqualFold(o.Email, nu.u.Email)) {
			return 0, nil, errf(http.StatusConflict, "user_exists", "another user has the same email, card ID or short ID")
		}
	}
	u := nu.u
	s.st.users[u.Username] = &u
	s.queueLocked(userRecord(&u))
	return http.StatusCreated, toUserJSON(&u), nil
}

func (s *Server) deleteUser(r *http.Request, c caller, _ time.Time) (int, any, *apiError) {
	name := r.PathValue("name")
	if e := checkName("username", name); e != nil {
		return 0, nil, e
	}
	if c.user == nil || (c.user.Username != name && !c.user.Admin) {
		return 0, nil, errf(http.StatusForbidden, "forbidden", "only an administrator may delete another user")
	}
	u := s.st.users[name]
	if u == nil {
		return 0, nil, errf(http.StatusNotFound, "not_found", "no user %q", name)
	}
	delete(s.st.users, name)
	recs := s.revokeLocked(familyUser, name)
	// Their documents go too: a user created later under the same name must
	// not see them in its history.
	for id, d := range s.st.docs {
		if d.Owner == name {
			delete(s.st.docs, id)
			recs = append(recs, Record{Kind: KindDocument, Key: id})
		}
	}
	if _, inFile := s.initUsers[name]; inFile {
		recs = append(recs, userRecord(&user{Username: name, Deleted: true}))
	} else {
		recs = append(recs, Record{Kind: KindUser, Key: name})
	}
	s.queueLocked(recs...)
	return http.StatusOK, map[string]string{"deleted": name}, nil
}

type newDocument struct {
	title  string
	copies int
	duplex bool
	size   int64
	sum    string
}

func parseDocument(r *http.Request) (any, *apiError) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errf(http.StatusBadRequest, "invalid_request", "a document is submitted as multipart/form-data with a boundary")
	}
	f, mf, e := parseAnyForm(r)
	if e != nil {
		return nil, e
	}
	defer func() { _ = mf.RemoveAll() }()
	p, e := f.fields("title", "copies", "duplex")
	if e != nil {
		return nil, e
	}
	d := &newDocument{title: p["title"], copies: 1}
	if d.copies, e = intField(f, "copies", 1, 1, 999); e != nil {
		return nil, e
	}
	switch strings.ToLower(p["duplex"]) {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		d.duplex = true
	default:
		return nil, errf(http.StatusBadRequest, "invalid_request", "duplex must be true or false")
	}
	files := mf.File["data"]
	if len(files) != 1 {
		return nil, errf(http.StatusBadRequest, "invalid_request", "exactly one file part named data is required")
	}
	fh, err := files[0].Open()
	if err != nil {
		return nil, errf(http.StatusBadRequest, "invalid_request", "the data part cannot be read")
	}
	defer func() { _ = fh.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "invalid_request", "the data part cannot be read")
	}
	d.size, d.sum = n, hex.EncodeToString(h.Sum(nil))
	if d.title == "" {
		d.title = files[0].Filename
	}
	if len(d.title) > 512 || !printable(d.title) {
		return nil, errf(http.StatusBadRequest, "invalid_request", "title (or the file name) is too long, not UTF-8 or has control characters")
	}
	return d, nil
}

type documentJSON struct {
	ID          string `json:"id"`
	Owner       string `json:"owner"`
	Title       string `json:"title"`
	Copies      int    `json:"copies"`
	Duplex      bool   `json:"duplex"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	SubmittedAt string `json:"submittedAt"`
}

func toDocumentJSON(d *document) documentJSON {
	return documentJSON{ID: d.ID, Owner: d.Owner, Title: d.Title, Copies: d.Copies, Duplex: d.Duplex,
		Size: d.Size, SHA256: d.SHA256, SubmittedAt: d.SubmittedAt.UTC().Format(time.RFC3339)}
}

func (s *Server) submitDocument(r *http.Request, c caller, now time.Time) (int, any, *apiError) {
	nd := argOf(r.Context()).(*newDocument)
	if c.user == nil {
		return 0, nil, errf(http.StatusForbidden, "forbidden", "documents belong to a user: log in first")
	}
	if len(s.st.docs) >= s.maxDocs {
		n := 0
		for _, d := range s.st.docs {
			if d.Owner == c.user.Username {
				n++
			}
		}
		if n >= s.maxDocs {
			return 0, nil, errf(http.StatusConflict, "quota_exceeded", "a user may keep at most %d documents", s.maxDocs)
		}
	}
	s.st.docSeq++
	d := &document{ID: newID(), Seq: s.st.docSeq, Owner: c.user.Username, Title: nd.title, Copies: nd.copies,
		Duplex: nd.duplex, Size: nd.size, SHA256: nd.sum, SubmittedAt: now}
	s.st.docs[d.ID] = d
	s.queueLocked(documentRecord(d))
	return http.StatusCreated, toDocumentJSON(d), nil
}

// parseDate reads RFC 3339 or YYYY-MM-DD; a date-only end covers its day.
func parseDate(v string, end bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		if end {
			t = t.Add(time.Nanosecond)
		}
		return t, true
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, false
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, true
}

func (s *Server) history(r *http.Request, c caller, _ time.Time) (int, any, *apiError) {
	if c.user == nil {
		return 0, nil, errf(http.StatusForbidden, "forbidden", "documents belong to a user: log in first")
	}
	f, e := parseQuery(r.URL.RawQuery)
	if e != nil {
		return 0, nil, e
	}
	p, e := f.fields("datestart", "dateend", "pageToken")
	if e != nil {
		return 0, nil, e
	}
	max, e := intField(f, "maxrecords", 50, 1, 1000)
	if e != nil {
		return 0, nil, e
	}
	var from, to time.Time
	if p["datestart"] != "" {
		var ok bool
		if from, ok = parseDate(p["datestart"], false); !ok {
			return 0, nil, errf(http.StatusBadRequest, "invalid_request", "datestart must be RFC 3339 or YYYY-MM-DD")
		}
	}
	if p["dateend"] != "" {
		var ok bool
		if to, ok = parseDate(p["dateend"], true); !ok {
			return 0, nil, errf(http.StatusBadRequest, "invalid_request", "dateend must be RFC 3339 or YYYY-MM-DD")
		}
	}
	var after uint64
	if p["pageToken"] != "" {
		raw, err := base64.RawURLEncoding.DecodeString(p["pageToken"])
		n, err2 := strconv.ParseUint(strings.TrimPrefix(string(raw), "after:"), 10, 64)
		if err != nil || err2 != nil || !strings.HasPrefix(string(raw), "after:") {
			return 0, nil, errf(http.StatusBadRequest, "invalid_request", "pageToken is not one this server gave")
		}
		after = n
	}
	var docs []*document
	for _, d := range s.st.docs {
		if d.Seq <= after || d.Owner != c.user.Username {
			continue
		}
		if (!from.IsZero() && d.SubmittedAt.Before(from)) || (!to.IsZero() && !d.SubmittedAt.Before(to)) {
			continue
		}
		docs = append(docs, d)
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Seq < docs[j].Seq })
	out := map[string]any{}
	items := []documentJSON{}
	for i, d := range docs {
		if i == max {
			out["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte("after:" + strconv.FormatUint(docs[i-1].Seq, 10)))
			break
		}
		items = append(items, toDocumentJSON(d))
	}
	out["items"] = items
	return http.StatusOK, out, nil
}
