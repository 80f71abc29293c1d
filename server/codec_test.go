package server

import (
	"reflect"
	"testing"
	"time"
)

func TestFamilyCodecRoundTrip(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	_, h1 := newSecret()
	_, h2 := newSecret()
	_, h3 := newSecret()
	for _, f := range []*family{
		{ID: newID(), Kind: familyUser, Username: "alice", KeyName: "default", CreatedAt: now,
			Access:  []accessEntry{{Hash: h1[:], Expires: now.Add(time.Hour)}},
			Refresh: []refreshEntry{{Hash: h2[:], Expires: now.Add(2 * time.Hour), Spent: now}, {Hash: h3[:], Expires: now.Add(3 * time.Hour)}}},
		{ID: "x", Kind: familyDevice, ClientID: "dev", KeyName: "k", CreatedAt: now},
	} {
		got, err := decodeFamily(encodeFamily(f))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Fatalf("got %+v\nwant %+v", got, f)
		}
	}
}

func FuzzDecodeFamily(f *testing.F) {
	_, h := newSecret()
	now := time.Now()
	f.Add(encodeFamily(&family{ID: "a", Kind: familyUser, Username: "u", KeyName: "k", CreatedAt: now,
		Access: []accessEntry{{Hash: h[:], Expires: now}}, Refresh: []refreshEntry{{Hash: h[:], Expires: now, Spent: now}}}))
	f.Add([]byte{1, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fam, err := decodeFamily(b)
		if err != nil {
			return
		}
		again, err := decodeFamily(encodeFamily(fam))
		if err != nil || !reflect.DeepEqual(again, fam) {
			t.Fatalf("re-encoding changed the family: %v", err)
		}
	})
}
