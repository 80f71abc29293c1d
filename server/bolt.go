package server

import (
	"errors"
	"fmt"
	"os"
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
// returns: a change the server has answered is on disk. The file holds
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
// panic reading a broken freelist) into an error.
func openBolt(path string, noSync bool) (db *bolt.DB, err error) {
	defer func() {
		if v := recover(); v != nil {
			db, err = nil, fmt.Errorf("%w: %s is damaged: %v", ErrStateFile, path, v)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: noSync})
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
