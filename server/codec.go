package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
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

// binReader reads the fields of an encoded value; the first error sticks,
// and every later read returns a zero value. bad is the error it reports.
type binReader struct {
	b   []byte
	err error
	bad error
}

func (r *binReader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = r.bad
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *binReader) uvarint(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > max {
		r.err = r.bad
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binReader) instant() instant {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = r.bad
		return 0
	}
	r.b = r.b[n:]
	return instant(v)
}

func (r *binReader) string() string {
	return string(r.bytes(4096))
}

// bytes reads a uvarint length of at most max, then that many bytes (a
// slice of the input, not a copy).
func (r *binReader) bytes(max uint64) []byte {
	n := r.uvarint(max)
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = r.bad
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *binReader) hash() (h [32]byte) {
	if r.err != nil || len(r.b) < len(h) {
		r.err = r.bad
		return h
	}
	copy(h[:], r.b)
	r.b = r.b[len(h):]
	return h
}

// decodeFamily reads a stored family. Its owner is a detached owner that
// only names the user or device; state.addFamily links it to the real one.
func decodeFamily(b []byte) (*family, error) {
	r := &binReader{b: b, bad: errBadFamily}
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

// A Batch in the write-ahead log (wal.go) is stored in the same style:
//
//	byte    flags (1: Reset; no other bit is set)
//	uvarint record count, then per record:
//	string  kind, key (uvarint length + bytes)
//	uvarint value length + 1, then the value; 0 deletes the record
var errBadBatch = errors.New("malformed batch of records")

const batchReset = 1

func appendBatch(b []byte, batch Batch) []byte {
	var flags byte
	if batch.Reset {
		flags |= batchReset
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(batch.Records)))
	for _, r := range batch.Records {
		b = binary.AppendUvarint(b, uint64(len(r.Kind)))
		b = append(b, r.Kind...)
		b = binary.AppendUvarint(b, uint64(len(r.Key)))
		b = append(b, r.Key...)
		if r.Value == nil {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(r.Value))+1)
		b = append(b, r.Value...)
	}
	return b
}

// decodeBatch reads a batch written by appendBatch. Values are copies; a
// kind the server does not know is an error.
func decodeBatch(b []byte) (Batch, error) {
	r := &binReader{b: b, bad: errBadBatch}
	flags := r.byte()
	if flags&^batchReset != 0 {
		return Batch{}, errBadBatch
	}
	batch := Batch{Reset: flags&batchReset != 0}
	n := r.uvarint(uint64(len(b)))
	if r.err == nil && n > 0 {
		batch.Records = make([]Record, 0, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		kind, key := Kind(r.string()), string(r.bytes(uint64(len(b))))
		if r.err == nil && !slices.Contains(Kinds, kind) {
			return Batch{}, fmt.Errorf("%w: unknown record kind %q", errBadBatch, kind)
		}
		rec := Record{Kind: kind, Key: key}
		if vlen := r.uvarint(uint64(len(b)) + 1); vlen > 0 && r.err == nil {
			if uint64(len(r.b)) < vlen-1 {
				r.err = errBadBatch
				break
			}
			rec.Value = append([]byte{}, r.b[:vlen-1]...)
			r.b = r.b[vlen-1:]
		}
		batch.Records = append(batch.Records, rec)
	}
	if r.err != nil {
		return Batch{}, r.err
	}
	if len(r.b) != 0 {
		return Batch{}, fmt.Errorf("%w: %d bytes after the last record", errBadBatch, len(r.b))
	}
	return batch, nil
}
