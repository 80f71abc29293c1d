package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Session makes authorized API calls for one user: every request carries
// the client's API key and the bearer token of its [TokenSource], with the
// refresh-once-and-retry-once rule of [Transport]. It is safe for
// concurrent use by multiple goroutines.
type Session struct {
	c   *Client
	src TokenSource
	hc  *http.Client
}

// Session returns a Session whose requests are authorized by src. Most
// programs get their Session from [Client.Login] or [Client.UserSession];
// this is for a token source of their own (e.g. paragonoauth2.FromOAuth2).
// Credentials are only sent to the API and OAuth hosts of the client's
// Config.
func (c *Client) Session(src TokenSource) *Session {
	hosts := []string{c.base.Host}
	if c.oauth.Host != c.base.Host {
		hosts = append(hosts, c.oauth.Host)
	}
	hc := *c.hc
	hc.Transport = &Transport{Base: c.hc.Transport, APIKey: c.apiKey, UserAgent: c.ua, Source: src, Hosts: hosts}
	return &Session{c: c, src: src, hc: &hc}
}

// Source returns the session's token source.
func (s *Session) Source() TokenSource { return s.src }

// HTTPClient returns the authorized *http.Client: every request to the
// API or OAuth host carries the API key and the user's bearer token, which
// is refreshed (and saved) before it expires, and a request answered 401 is
// retried once with a fresh token (see [Transport]). Check its answers with
// [CheckResponse]. Use it for functions without a typed helper.
func (s *Session) HTTPClient() *http.Client { return s.hc }

// Do sends req authorized (see [Transport]). req is not modified. As with
// http.Client.Do, a non-2xx status is not an error; the caller closes the
// body.
func (s *Session) Do(req *http.Request) (*http.Response, error) {
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	return resp, nil
}

// unwrapURLError returns the cause of a *url.Error when it is one of this
// package's sentinel-carrying errors, so that errors.Is works and the URL
// (which may hold query secrets) is not repeated; other errors are scrubbed.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var w *wrapped
		if errors.As(ue.Err, &w) {
			return w
		}
	}
	return scrubURLError(err)
}

// call sends an authorized request and decodes a 2xx JSON answer into out
// (if non-nil); a non-2xx answer becomes an *APIError.
func (s *Session) call(ctx context.Context, method, path string, query url.Values, contentType string, body []byte, out any) error {
	u := s.c.APIURL(path)
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := s.c.readAnswer(resp)
	if err != nil {
		var form url.Values
		if contentType == "application/x-www-form-urlencoded" {
			form, _ = url.ParseQuery(string(body))
		}
		return maskEcho(err, form)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return errorf("%s %s: decoding answer: %v", method, path, err)
	}
	return nil
}

type itemsAnswer[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"nextPageToken"`
}

// Version returns the server's version (GET /api/v1/version).
func (s *Session) Version(ctx context.Context) (*Version, error) {
	var v Version
	if err := s.call(ctx, http.MethodGet, "/api/v1/version", nil, "", nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Account returns the API key's account (GET /api/v1/account).
func (s *Session) Account(ctx context.Context) (*Account, error) {
	var a Account
	if err := s.call(ctx, http.MethodGet, "/api/v1/account", nil, "", nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Ping sends HEAD /api/v1/account, the one function that needs neither an
// API key nor a token, to check that the server answers. It returns nil on a
// 2xx answer, else an *APIError or the network error.
func (c *Client) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.APIURL("/api/v1/account"), nil)
	if err != nil {
		return err
	}
	_, err = c.send(req)
	return err
}

// ListUsers returns the account's users (GET /api/v1/users/all; the
// reference server sorts them by Username); maxRecords > 0 limits the count.
func (s *Session) ListUsers(ctx context.Context, maxRecords int) ([]User, error) {
	q := url.Values{}
	if maxRecords > 0 {
		q.Set("maxrecords", strconv.Itoa(maxRecords))
	}
	var a itemsAnswer[User]
	if err := s.call(ctx, http.MethodGet, "/api/v1/users/all", q, "", nil, &a); err != nil {
		return nil, err
	}
	return a.Items, nil
}

// GetUser returns the user named username (GET /api/v1/users?username=). A
// user that does not exist is an *APIError with StatusCode 404.
func (s *Session) GetUser(ctx context.Context, username string) (*User, error) {
	var a itemsAnswer[User]
	if err := s.call(ctx, http.MethodGet, "/api/v1/users", url.Values{"username": {username}}, "", nil, &a); err != nil {
		return nil, err
	}
	if len(a.Items) == 0 {
		return nil, &APIError{StatusCode: http.StatusNotFound, Code: "not_found", Description: "no such user"}
	}
	return &a.Items[0], nil
}

// User detail types of PUT /api/v1/users (detailtype).
const (
	DetailFullName = 0
	DetailEmail    = 1
	DetailPassword = 3
	DetailCardID   = 4
	DetailShortID  = 5
)

// NewUser describes a user to create; empty fields are not sent.
type NewUser struct {
	Username string
	FullName string
	Email    string
	Password string
	CardID   string
	ShortID  string
}

// CreateUser creates a user (PUT /api/v1/users with username and
// detailtype/detaildata pairs). Needs an administrator's token.
func (s *Session) CreateUser(ctx context.Context, u NewUser) error {
	if u.Username == "" {
		return errorf("create user: Username is required")
	}
	form := url.Values{"username": {u.Username}}
	for _, d := range []struct {
		typ int
		val string
	}{{DetailFullName, u.FullName}, {DetailEmail, u.Email}, {DetailPassword, u.Password}, {DetailCardID, u.CardID}, {DetailShortID, u.ShortID}} {
		if d.val != "" {
			form.Add("detailtype", strconv.Itoa(d.typ))
			form.Add("detaildata", d.val)
		}
	}
	return s.call(ctx, http.MethodPut, "/api/v1/users", nil, "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
}

// DeleteUser deletes a user (DELETE /api/v1/users/{username}). Needs an
// administrator's token.
func (s *Session) DeleteUser(ctx context.Context, username string) error {
	if username == "" {
		return errorf("delete user: username is required")
	}
	return s.call(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(username), nil, "", nil, nil)
}

// PrintJob is a document to print, for [Session.SubmitDocument].
type PrintJob struct {
	// Title names the job; empty means FileName.
	Title string
	// Copies is the number of copies; zero means 1.
	Copies int
	// Duplex prints on both sides.
	Duplex bool
	// FileName is the file part's name; empty means "document".
	FileName string
	// Data is the document's content. It is held in memory so that the
	// request can be replayed after a token refresh.
	Data []byte
}

// SubmitDocument sends a print job (PUT /api/v1/documents, multipart with
// title, copies, duplex and the file part data) and returns the document as
// the server stored it.
func (s *Session) SubmitDocument(ctx context.Context, d PrintJob) (*Document, error) {
	name := d.FileName
	if name == "" {
		name = "document"
	}
	title := d.Title
	if title == "" {
		title = name
	}
	copies := d.Copies
	if copies <= 0 {
		copies = 1
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("title", title)
	_ = mw.WriteField("copies", strconv.Itoa(copies))
	_ = mw.WriteField("duplex", strconv.FormatBool(d.Duplex))
	fw, err := mw.CreateFormFile("data", name)
	if err != nil {
		return nil, err
	}
	_, _ = fw.Write(d.Data)
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var doc Document
	if err := s.call(ctx, http.MethodPut, "/api/v1/documents", nil, mw.FormDataContentType(), buf.Bytes(), &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// HistoryQuery selects document history (GET /api/v1/documents/history).
type HistoryQuery struct {
	// Start and End bound the dates (zero: not sent), sent as RFC 3339.
	Start, End time.Time
	// MaxRecords is the page size (zero: the server's default, 50).
	MaxRecords int
	// PageToken continues from a previous page's NextPageToken.
	PageToken string
}

// HistoryPage is one page of document history.
type HistoryPage struct {
	// Items are the page's documents (the reference server: oldest first).
	Items []Document
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// DocumentHistory returns one page of the user's document history.
func (s *Session) DocumentHistory(ctx context.Context, q HistoryQuery) (*HistoryPage, error) {
	v := url.Values{}
	if !q.Start.IsZero() {
		v.Set("datestart", q.Start.UTC().Format(time.RFC3339))
	}
	if !q.End.IsZero() {
		v.Set("dateend", q.End.UTC().Format(time.RFC3339))
	}
	if q.MaxRecords > 0 {
		v.Set("maxrecords", strconv.Itoa(q.MaxRecords))
	}
	if q.PageToken != "" {
		v.Set("pageToken", q.PageToken)
	}
	var a itemsAnswer[Document]
	if err := s.call(ctx, http.MethodGet, "/api/v1/documents/history", v, "", nil, &a); err != nil {
		return nil, err
	}
	return &HistoryPage{Items: a.Items, NextPageToken: a.NextPageToken}, nil
}

// maxHistoryPages bounds [Session.AllDocumentHistory] against a server that
// never stops paging.
const maxHistoryPages = 10000

// AllDocumentHistory iterates over every history item matching q, following
// nextPageToken from q.PageToken on. Iteration stops at the first error,
// which is yielded with a zero Document, or when a server repeats a page
// token.
func (s *Session) AllDocumentHistory(ctx context.Context, q HistoryQuery) iter.Seq2[Document, error] {
	return func(yield func(Document, error) bool) {
		seen := map[string]bool{}
		for range maxHistoryPages {
			page, err := s.DocumentHistory(ctx, q)
			if err != nil {
				yield(Document{}, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
					return
				}
			}
			if page.NextPageToken == "" || seen[page.NextPageToken] {
				return
			}
			seen[page.NextPageToken] = true
			q.PageToken = page.NextPageToken
		}
	}
}
