package client

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTypedAnswersKeepRawAndSurviveOddFields(t *testing.T) {
	body := `{"items":[{"username":"alice","fullName":"Alice L.","admin":"yes","department":"print room"}],"nextPageToken":""}`
	var a itemsAnswer[User]
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	u := a.Items[0]
	if u.Username != "alice" || u.FullName != "Alice L." || u.Admin {
		t.Errorf("user %+v", u)
	}
	var extra struct {
		Department string `json:"department"`
		Admin      string `json:"admin"`
	}
	if err := json.Unmarshal(u.Raw, &extra); err != nil || extra.Department != "print room" || extra.Admin != "yes" {
		t.Errorf("Raw %s: %+v %v", u.Raw, extra, err)
	}

	var acc Account
	if err := json.Unmarshal([]byte(`{"name":"acme","users":3,"serverTime":"2026-03-01T09:00:00Z"}`), &acc); err != nil {
		t.Fatal(err)
	}
	if acc.Name != "acme" || acc.Users != 3 || !acc.ServerTime.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("account %+v", acc)
	}
	var d Document
	if err := json.Unmarshal([]byte(`{"id":"d1","copies":2,"submittedAt":"yesterday"}`), &d); err != nil {
		t.Fatal(err)
	}
	if d.ID != "d1" || d.Copies != 2 || !d.SubmittedAt.IsZero() {
		t.Errorf("document %+v", d)
	}
	if err := json.Unmarshal([]byte(`[1]`), &d); err == nil {
		t.Error("an array decoded as a Document")
	}
}
