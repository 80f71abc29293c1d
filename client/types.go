package client

import (
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// The answers of the API functions are typed: the fields below are those
// the protocol (docs/protocol.md section 6) and the reference server send.
// Each type keeps the answer's JSON object as it came in Raw, so that a
// field the type does not know (another server's extension) stays
// reachable:
//
//	var extra struct{ Department string `json:"department"` }
//	_ = json.Unmarshal(user.Raw, &extra)
//
// A field whose JSON type differs from the Go type (e.g. "admin": "yes") is
// left zero instead of failing the call; Raw still has it.

// User is a user of the account (GET /api/v1/users/all, GET
// /api/v1/users?username=).
type User struct {
	// Username is the user's login name.
	Username string `json:"username"`
	// FullName is the display name, empty if the server has none.
	FullName string `json:"fullName,omitempty"`
	// Email is the user's address, empty if the server has none.
	Email string `json:"email,omitempty"`
	// Admin reports whether the user administers the account.
	Admin bool `json:"admin"`
	// Raw is the user's JSON object as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a user, keeping the object in Raw.
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	var p plain
	if err := lenient(json.Unmarshal(b, &p)); err != nil {
		return err
	}
	*u = User(p)
	u.Raw = slices.Clone(b)
	return nil
}

// Version is the server's version (GET /api/v1/version, ServerVersionInfo).
type Version struct {
	// APIVersion is the API's version, "v1".
	APIVersion string `json:"apiVersion"`
	// Product names the server software.
	Product string `json:"product"`
	// Version is the server software's version.
	Version string `json:"version"`
	// Raw is the answer's JSON object as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a version, keeping the object in Raw.
func (v *Version) UnmarshalJSON(b []byte) error {
	type plain Version
	var p plain
	if err := lenient(json.Unmarshal(b, &p)); err != nil {
		return err
	}
	*v = Version(p)
	v.Raw = slices.Clone(b)
	return nil
}

// Account describes the account the API key belongs to (GET
// /api/v1/account, AccountInfo).
type Account struct {
	// Name is the account's name.
	Name string `json:"name"`
	// Users is the number of users of the account.
	Users int `json:"users"`
	// ServerTime is the server's clock when it answered (zero if it sent
	// none or not in RFC 3339).
	ServerTime time.Time `json:"-"`
	// Raw is the answer's JSON object as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes an account, keeping the object in Raw.
func (a *Account) UnmarshalJSON(b []byte) error {
	type plain Account
	var p struct {
		plain
		ServerTime string `json:"serverTime"`
	}
	if err := lenient(json.Unmarshal(b, &p)); err != nil {
		return err
	}
	*a = Account(p.plain)
	a.ServerTime = parseTime(p.ServerTime)
	a.Raw = slices.Clone(b)
	return nil
}

// Document is a submitted print job as the server describes it: the answer
// of [Session.SubmitDocument] and the items of the document history.
type Document struct {
	// ID is the server's id of the document.
	ID string `json:"id"`
	// Owner is the user who submitted it.
	Owner string `json:"owner"`
	// Title names the job.
	Title string `json:"title"`
	// Copies is the number of copies.
	Copies int `json:"copies"`
	// Duplex reports two-sided printing.
	Duplex bool `json:"duplex"`
	// Size is the document's size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the document's content.
	SHA256 string `json:"sha256"`
	// SubmittedAt is when the server received it (zero if it sent none or
	// not in RFC 3339).
	SubmittedAt time.Time `json:"-"`
	// Raw is the document's JSON object as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a document, keeping the object in Raw.
func (d *Document) UnmarshalJSON(b []byte) error {
	type plain Document
	var p struct {
		plain
		SubmittedAt string `json:"submittedAt"`
	}
	if err := lenient(json.Unmarshal(b, &p)); err != nil {
		return err
	}
	*d = Document(p.plain)
	d.SubmittedAt = parseTime(p.SubmittedAt)
	d.Raw = slices.Clone(b)
	return nil
}

// lenient drops a JSON type mismatch of one field (encoding/json fills the
// other fields and reports the first mismatch), so that a server's
// differently typed field does not fail the whole answer.
func lenient(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return nil
	}
	return err
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
