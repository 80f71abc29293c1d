package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// BoltSchemaVersion is the version of the state file format OpenBoltStore
// reads and writes. A file of another version is refused, never reset.
const BoltSchemaVersion = 1

var (
	metaBucket = []byte("paragon")
	formatKey  = []byte("format")
	schemaKey  = []byte("schema")
	formatName = []byte("paragon-server-state")
)

// ErrStateFile is wrapped by every error about an unusable state file (other
// format version, not a paragon file, damaged), so callers can tell it apart
// from an I/O error.
var ErrStateFile = errors.New("unusable paragon state file")

// BoltStore is a Store in a bbolt file (`paragon server --data FILE`). Every
// Commit is one bbolt transaction, which bbolt writes and fsyncs before it
// returns; the server commits the changes of concurrent requests together
// and answers each after the commit that holds its change, so a change the
// server has answered is on disk. The file holds
// devices, token families (SHA-256 hashes of tokens only, never a token),
// users changed through the API (bcrypt hashes), document metadata, changed
// key switches, changed lifetimes and the fake clock. Login throttling and
// injected faults are not stored. Only one process may open the file at a
// time. Deleted records free pages that later commits reuse, and the server's
// sweep deletes expired state, so the file does not grow without bound.
type BoltStore struct {
	db *bolt.DB
}

var _ Store = (*BoltStore)(nil)

// OpenBoltStore opens (or creates) the state file at path. A file written by
// another format version, a bbolt file that is not a paragon state file, and
// a damaged file are errors wrapping ErrStateFile that say what is wrong; the
// file is left untouched. A file locked by another process is an error after
// one second.
func OpenBoltStore(path string) (*BoltStore, error) {
	return openBoltStore(path, false)
}

// openBoltStore is OpenBoltStore; noSync skips fsync (only for measuring file
// sizes quickly: the file's contents are the same).
func openBoltStore(path string, noSync bool) (*BoltStore, error) {
	if err := checkTruncated(path); err != nil {
		return nil, err
	}
	db, err := openBolt(path, noSync)
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("state file %s is in use by another process", path)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum):
			return nil, fmt.Errorf("%w: %s is damaged or not a bbolt database (%v); move it away to start afresh", ErrStateFile, path, err)
		case errors.Is(err, berrors.ErrVersionMismatch):
			return nil, fmt.Errorf("%w: %s was written by an unsupported bbolt version (%v)", ErrStateFile, path, err)
		case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("opening state file: %w", err)
		case errors.Is(err, ErrStateFile):
			return nil, err
		default:
			return nil, fmt.Errorf("%w: %s cannot be opened: %v", ErrStateFile, path, err)
		}
	}
	s := &BoltStore{db: db}
	if err := s.init(path); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the file, turning a bbolt panic on a damaged file (it may
// panic reading a broken freelist) into an error. A memory fault reading the
// mapped file panics too instead of crashing the process.
func openBolt(path string, noSync bool) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			db, err = nil, fmt.Errorf("%w: %s is damaged: %v", ErrStateFile, path, v)
		}
	}()
	// The free-page list is written with each commit (NoFreelistSync would
	// save that page, but then bbolt scans the file when opening it, in a
	// goroutine whose panic on a damaged file cannot be recovered).
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: noSync})
}

// bbolt's meta page layout (go.etcd.io/bbolt/internal/common): a 16-byte
// page header, then magic, version, page size, flags (4 bytes each), the
// root bucket (16), the freelist page, the high-water page id, the
// transaction id and an FNV-64a checksum of everything before it (8 each).
const (
	boltMagic       = 0xED0CDAED
	boltPageHeader  = 16
	boltMetaSumFrom = 56 // bytes of meta covered by the checksum
)

// checkTruncated refuses a file shorter than its own high-water page mark
// (a truncated copy, a disk that filled up): bbolt maps the file into memory
// and would crash with SIGBUS reading a page past its end. A missing or empty
// file, or one without a valid meta page, is left to bbolt to judge.
func checkTruncated(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil
	}
	meta := func(off int64) (pageSize, pgid, txid uint64, ok bool) {
		b := make([]byte, boltMetaSumFrom+8)
		if _, err := f.ReadAt(b, off+boltPageHeader); err != nil {
			return 0, 0, 0, false
		}
		ne := binary.NativeEndian
		h := fnv.New64a()
		h.Write(b[:boltMetaSumFrom])
		if ne.Uint32(b[0:]) != boltMagic || ne.Uint32(b[4:]) != 2 || h.Sum64() != ne.Uint64(b[boltMetaSumFrom:]) {
			return 0, 0, 0, false
		}
		return uint64(ne.Uint32(b[8:])), ne.Uint64(b[40:]), ne.Uint64(b[48:]), true
	}
	sane := func(ps uint64) bool { return ps >= 512 && ps <= 1<<20 }
	ps, pgid, txid, ok := meta(0)
	if !ok || !sane(ps) {
		ps, ok = uint64(os.Getpagesize()), false
	}
	// bbolt uses the valid meta page with the newer transaction.
	if ps1, pg1, tx1, ok1 := meta(int64(ps)); ok1 && sane(ps1) && (!ok || tx1 > txid) {
		ps, pgid, ok = ps1, pg1, true
	}
	if !ok {
		return nil
	}
	if need := pgid * ps; uint64(fi.Size()) < need {
		return fmt.Errorf("%w: %s is truncated: %d bytes, but its pages need %d; restore it from a copy or move it away to start afresh",
			ErrStateFile, path, fi.Size(), need)
	}
	return nil
}

// init checks the file's consistency and format version, or stamps a new file.
func (s *BoltStore) init(path string) (err error) {
	defer func() {
		// bbolt may panic on pages it cannot make sense of.
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %s is damaged: %v", ErrStateFile, path, v)
		}
	}()
	if err := s.db.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			return cerr
		}
		return nil
	}); err != nil {
		return fmt.Errorf("%w: %s is damaged: %v", ErrStateFile, path, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("%w: %s is a bbolt database but not a paragon state file", ErrStateFile, path)
			}
			m, err := tx.CreateBucket(metaBucket)
			if err != nil {
				return err
			}
			if err := m.Put(formatKey, formatName); err != nil {
				return err
			}
			if err := m.Put(schemaKey, []byte(strconv.Itoa(BoltSchemaVersion))); err != nil {
				return err
			}
		} else {
			if string(meta.Get(formatKey)) != string(formatName) {
				return fmt.Errorf("%w: %s is not a paragon state file", ErrStateFile, path)
			}
			v := string(meta.Get(schemaKey))
			if v != strconv.Itoa(BoltSchemaVersion) {
				return fmt.Errorf("%w: %s has state format version %q; this paragon reads version %d (use a matching paragon, or move the file away to start afresh)",
					ErrStateFile, path, v, BoltSchemaVersion)
			}
		}
		for _, k := range Kinds {
			if _, err := tx.CreateBucketIfNotExists([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Load implements Store.
func (s *BoltStore) Load(fn func(Record) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: reading the state file: %v", ErrStateFile, v)
		}
	}()
	return s.db.View(func(tx *bolt.Tx) error {
		for _, k := range Kinds {
			b := tx.Bucket([]byte(k))
			if b == nil {
				continue
			}
			if err := b.ForEach(func(key, v []byte) error {
				return fn(Record{Kind: k, Key: string(key), Value: append([]byte(nil), v...)})
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Commit implements Store: one transaction, fsynced before it returns.
func (s *BoltStore) Commit(b Batch) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b.Reset {
			for _, k := range Kinds {
				if err := tx.DeleteBucket([]byte(k)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
					return err
				}
				if _, err := tx.CreateBucket([]byte(k)); err != nil {
					return err
				}
			}
		}
		for _, r := range b.Records {
			bk, err := tx.CreateBucketIfNotExists([]byte(r.Kind))
			if err != nil {
				return err
			}
			// Ids grow with time, so most puts append: fill pages up.
			bk.FillPercent = 0.9
			if r.Value == nil {
				err = bk.Delete([]byte(r.Key))
			} else {
				err = bk.Put([]byte(r.Key), r.Value)
			}
			if err != nil {
				return fmt.Errorf("storing %s %q: %w", r.Kind, r.Key, err)
			}
		}
		return nil
	})
}

// Close implements Store.
func (s *BoltStore) Close() error {
	return s.db.Close()
}

// Len returns the number of stored records (for tests and measurements).
func (s *BoltStore) Len() int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		for _, k := range Kinds {
			if b := tx.Bucket([]byte(k)); b != nil {
				n += b.Stats().KeyN
			}
		}
		return nil
	})
	return n
}

// Path returns the file's path.
func (s *BoltStore) Path() string {
	return s.db.Path()
}

// DataSize is the size of the file's used part (its high-water page mark);
// the file itself is grown in larger steps and may be bigger.
func (s *BoltStore) DataSize() int64 {
	var n int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n
}
