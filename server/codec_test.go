package server

import (
	"encoding/hex"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestFamilyCodecRoundTrip(t *testing.T) {
	now := toInstant(time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC))
	_, h1 := newSecret()
	_, h2 := newSecret()
	_, h3 := newSecret()
	for _, f := range []*family{
		{id: newFamID(), kind: familyUser, owner: &owner{kind: familyUser, name: "alice"}, keyName: "default", created: now,
			access:  []accessEntry{{hash: h1, expires: now + instant(time.Hour)}},
			refresh: []refreshEntry{{hash: h2, expires: now + instant(2*time.Hour), spent: now}, {hash: h3, expires: now + instant(3*time.Hour)}}},
		{id: newFamID(), kind: familyDevice, owner: &owner{kind: familyDevice, name: "dev"}, keyName: "k", created: now,
			access: []accessEntry{}, refresh: []refreshEntry{}},
		// The extremes: lifetimes of 100 years from a fake clock 100 years
		// ahead, and beyond (saturated).
		{id: newFamID(), kind: familyUser, owner: &owner{kind: familyUser, name: "u"}, keyName: "k", created: now,
			access:  []accessEntry{{hash: h1, expires: maxInstant}},
			refresh: []refreshEntry{{hash: h2, expires: math.MaxInt64, spent: minInstant}}},
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

// A family as the previous version (a state file of the same format) wrote
// it reads the same and encodes to the same bytes.
func TestFamilyCodecReadsEarlierFiles(t *testing.T) {
	const stored = "01011830313233343536373839616263646566303132333435363700056465762d310764656661756c748cc889c7ecb4a0c734" +
		"0101000000000000000000000000000000000000000000000000000000000000008cc8ced2b286a2c734" +
		"0201000000000000000000000000000000000000000000000000000000000000008cc8ced2b286a2c7348cc889c7ecb4a0c734" +
		"02000000000000000000000000000000000000000000000000000000000000008cc893def8d7a3c73400"
	b, _ := hex.DecodeString(stored)
	f, err := decodeFamily(b)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	if f.id.String() != "0123456789abcdef01234567" || f.kind != familyDevice || f.owner.name != "dev-1" || f.keyName != "default" ||
		!f.created.time().Equal(now) || len(f.access) != 1 || f.access[0].hash[0] != 1 || !f.access[0].expires.time().Equal(now.Add(time.Hour)) ||
		len(f.refresh) != 2 || !f.refresh[0].spent.time().Equal(now) || f.refresh[1].spent != 0 || f.refresh[1].hash[0] != 2 {
		t.Errorf("decoded %+v", f)
	}
	if got := hex.EncodeToString(encodeFamily(f)); got != stored {
		t.Errorf("re-encoded\n%s\nwant\n%s", got, stored)
	}
}

// Times past the year 2262 (where UnixNano overflows) are kept as the last
// instant, never wrapped around into the past.
func TestInstantSaturates(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want instant
	}{
		{time.Time{}, 0},
		{time.Unix(0, 0), 1},
		{time.Date(2030, 1, 1, 0, 0, 0, 5, time.UTC), instant(time.Date(2030, 1, 1, 0, 0, 0, 5, time.UTC).UnixNano())},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), maxInstant},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), maxInstant},
		{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), minInstant},
	} {
		got := toInstant(c.t)
		if got != c.want {
			t.Errorf("toInstant(%v) = %d, want %d", c.t, got, c.want)
		}
		if toInstant(got.time()) != got {
			t.Errorf("%v does not round-trip", c.t)
		}
	}
	if !time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC).Before(maxInstant.time()) || maxInstant.time().Year() != 2262 {
		t.Errorf("maxInstant is %v", maxInstant.time())
	}
}

func FuzzDecodeFamily(f *testing.F) {
	_, h := newSecret()
	now := toInstant(time.Now())
	f.Add(encodeFamily(&family{id: newFamID(), kind: familyUser, owner: &owner{name: "u"}, keyName: "k", created: now,
		access: []accessEntry{{hash: h, expires: now}}, refresh: []refreshEntry{{hash: h, expires: now, spent: now}}}))
	f.Add(encodeFamily(&family{id: newFamID(), kind: familyDevice, owner: &owner{kind: familyDevice, name: "d"}, keyName: "k"}))
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
