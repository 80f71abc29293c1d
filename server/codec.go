package server

import (
	"encoding/binary"
	"errors"
)

// Token families are the bulk of the state file, so they are stored in a
// compact binary form rather than JSON:
//
//	byte    format (1)
//	byte    kind (0 user, 1 device)
//	string  id (24 hex digits), username, client id, key name (uvarint
//	        length + bytes); a user family has no client id, a device
//	        family no username
//	varint  created (Unix ns)
//	uvarint access count, then per token: 32-byte hash, varint expiry
//	uvarint refresh count, then per token: 32-byte hash, varint expiry,
//	        varint spent (0: live)
//
// Times are instants: Unix nanoseconds, saturated (never wrapped) outside
// the years 1678 to 2262, so a stored time reads back as written.
const familyFormat = 1

var errBadFamily = errors.New("malformed token family")

func encodeFamily(f *family) []byte {
	b := make([]byte, 0, 64+len(f.access)*42+len(f.refresh)*52)
	b = append(b, familyFormat, byte(f.kind))
	username, clientID := f.owner.name, ""
	if f.kind == familyDevice {
		username, clientID = "", f.owner.name
	}
	for _, s := range []string{f.id.String(), username, clientID, f.keyName} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, int64(f.created))
	b = binary.AppendUvarint(b, uint64(len(f.access)))
	for _, a := range f.access {
		b = append(b, a.hash[:]...)
		b = binary.AppendVarint(b, int64(a.expires))
	}
	b = binary.AppendUvarint(b, uint64(len(f.refresh)))
	for _, r := range f.refresh {
		b = append(b, r.hash[:]...)
		b = binary.AppendVarint(b, int64(r.expires))
		b = binary.AppendVarint(b, int64(r.spent))
	}
	return b
}

type famReader struct {
	b   []byte
	err error
}

func (r *famReader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errBadFamily
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *famReader) uvarint(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > max {
		r.err = errBadFamily
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *famReader) instant() instant {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadFamily
		return 0
	}
	r.b = r.b[n:]
	return instant(v)
}

func (r *famReader) string() string {
	n := int(r.uvarint(4096))
	if r.err != nil || len(r.b) < n {
		r.err = errBadFamily
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *famReader) hash() (h [32]byte) {
	if r.err != nil || len(r.b) < len(h) {
		r.err = errBadFamily
		return h
	}
	copy(h[:], r.b)
	r.b = r.b[len(h):]
	return h
}

// decodeFamily reads a stored family. Its owner is a detached owner that
// only names the user or device; state.addFamily links it to the real one.
func decodeFamily(b []byte) (*family, error) {
	r := &famReader{b: b}
	if r.byte() != familyFormat {
		return nil, errBadFamily
	}
	kind := famKind(r.byte())
	if kind != familyUser && kind != familyDevice {
		return nil, errBadFamily
	}
	id, username, clientID, keyName := r.string(), r.string(), r.string(), r.string()
	f := &family{kind: kind, keyName: keyName, created: r.instant()}
	n := r.uvarint(uint64(len(b)))
	if r.err == nil {
		f.access = make([]accessEntry, 0, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		f.access = append(f.access, accessEntry{hash: r.hash(), expires: r.instant()})
	}
	n = r.uvarint(uint64(len(b)))
	if r.err == nil {
		f.refresh = make([]refreshEntry, 0, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		f.refresh = append(f.refresh, refreshEntry{hash: r.hash(), expires: r.instant(), spent: r.instant()})
	}
	if r.err != nil {
		return nil, r.err
	}
	var ok bool
	if f.id, ok = parseFamID(id); !ok || len(r.b) != 0 {
		return nil, errBadFamily
	}
	name := username
	switch {
	case kind == familyUser && clientID == "":
	case kind == familyDevice && username == "":
		name = clientID
	default:
		return nil, errBadFamily // the other owner field must be empty
	}
	f.owner = &owner{kind: kind, name: name}
	return f, nil
}
