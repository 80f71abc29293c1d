package server

import (
	"encoding/binary"
	"errors"
	"time"
)

// Token families are the bulk of the state file, so they are stored in a
// compact binary form rather than JSON:
//
//	byte    format (1)
//	byte    kind (0 user, 1 device)
//	string  id, username, client id, key name (uvarint length + bytes)
//	varint  created (Unix ns)
//	uvarint access count, then per token: 32-byte hash, varint expiry
//	uvarint refresh count, then per token: 32-byte hash, varint expiry,
//	        varint spent (0: live)
const familyFormat = 1

var errBadFamily = errors.New("malformed token family")

func encodeFamily(f *family) []byte {
	b := make([]byte, 0, 64+len(f.Access)*42+len(f.Refresh)*52)
	b = append(b, familyFormat)
	kind := byte(0)
	if f.Kind == familyDevice {
		kind = 1
	}
	b = append(b, kind)
	for _, s := range []string{f.ID, f.Username, f.ClientID, f.KeyName} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, unixNano(f.CreatedAt))
	b = binary.AppendUvarint(b, uint64(len(f.Access)))
	for _, a := range f.Access {
		b = append(b, a.Hash...)
		b = binary.AppendVarint(b, unixNano(a.Expires))
	}
	b = binary.AppendUvarint(b, uint64(len(f.Refresh)))
	for _, r := range f.Refresh {
		b = append(b, r.Hash...)
		b = binary.AppendVarint(b, unixNano(r.Expires))
		b = binary.AppendVarint(b, unixNano(r.Spent))
	}
	return b
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
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

func (r *famReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadFamily
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *famReader) bytes(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errBadFamily
		return nil
	}
	out := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return out
}

func decodeFamily(b []byte) (*family, error) {
	r := &famReader{b: b}
	if r.byte() != familyFormat {
		return nil, errBadFamily
	}
	f := &family{Kind: familyUser}
	switch r.byte() {
	case 0:
	case 1:
		f.Kind = familyDevice
	default:
		return nil, errBadFamily
	}
	for _, dst := range []*string{&f.ID, &f.Username, &f.ClientID, &f.KeyName} {
		*dst = string(r.bytes(int(r.uvarint(4096))))
	}
	f.CreatedAt = fromUnixNano(r.varint())
	n := r.uvarint(uint64(len(b)))
	for i := uint64(0); i < n && r.err == nil; i++ {
		f.Access = append(f.Access, accessEntry{Hash: r.bytes(32), Expires: fromUnixNano(r.varint())})
	}
	n = r.uvarint(uint64(len(b)))
	for i := uint64(0); i < n && r.err == nil; i++ {
		f.Refresh = append(f.Refresh, refreshEntry{Hash: r.bytes(32), Expires: fromUnixNano(r.varint()), Spent: fromUnixNano(r.varint())})
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 || f.ID == "" {
		return nil, errBadFamily
	}
	return f, nil
}
