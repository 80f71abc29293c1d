package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
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

// BoltStore is a Store in a bbolt file (`paragon server --data FILE`) and
// its write-ahead log FILE-wal (wal.go). Every Commit is one entry appended
// to the log and fdatasynced before it returns; the server commits the
// changes of concurrent requests together and answers each after the commit
// that holds its change, so a change the server has answered is on disk.
// The log's changes are written into the bbolt file (one transaction, which
// bbolt fsyncs) when the log reaches a size, when the store opens, and when
// it closes; a closed store leaves the bbolt file alone, without a log. The
// file holds
// devices, token families (SHA-256 hashes of tokens only, never a token),
// users changed through the API (bcrypt hashes), document metadata, changed
// key switches, changed lifetimes and the fake clock. Login throttling and
// injected faults are not stored. Only one process may open the file (and so
// its log) at a time. Deleted records free pages that later commits reuse,
// and the server's sweep deletes expired state, so the file does not grow
// without bound.
type BoltStore struct {
	db   *bolt.DB
	path string

	// Settings (BoltOptions) and test hooks.
	checkpointBytes int64
	chunk           int          // the log is written ahead with zeros, then grows in steps of chunk bytes; 0: not
	noSync          bool         // no fdatasync of the log (measuring file sizes only)
	fault           func() error // tests: an error here fails the append
	testHook        func(stage string)

	mu          sync.Mutex // the log: Commit, rotation, Close
	log         *os.File   // FILE-wal; nil when closed or broken
	closed      bool
	size        int64  // end of the last entry
	alloc       int64  // bytes of the log written (entries, then zeros)
	seq         uint64 // number of the last entry
	buf         []byte
	spare       *os.File // FILE-wal-new: the last checkpoint's log, for the next rotation
	spareAlloc  int64
	cur         changes       // the changes in FILE-wal
	old         changes       // the changes in FILE-wal-old
	oldLast     uint64        // number of FILE-wal-old's last entry
	broken      error         // the log is in an unknown state: every call fails
	oldPending  bool          // FILE-wal-old is not in bbolt yet
	ckRunning   bool          // a checkpoint goroutine runs
	ckDone      chan struct{} // closed when the last checkpoint goroutine ends
	ckErr       error         // the last checkpoint's failure
	checkpoints int           // checkpoints done (tests)

	// ckMu is held while bbolt and the logs on disk change together (a
	// checkpoint) or are read together (Load); taken before mu.
	ckMu sync.Mutex
}

// BoltOptions tune a BoltStore; the zero value means the defaults.
type BoltOptions struct {
	// CheckpointBytes is the size of the write-ahead log at which its
	// changes are written into the state file (DefaultCheckpointBytes if 0).
	CheckpointBytes int64
}

var _ Store = (*BoltStore)(nil)

// OpenBoltStore opens (or creates) the state file at path. A file written by
// another format version, a bbolt file that is not a paragon state file, and
// a damaged file are errors wrapping ErrStateFile that say what is wrong; the
// file is left untouched. A file locked by another process is an error after
// one second.
//
// Changes in its write-ahead log FILE-wal (and FILE-wal-old) left by a crash
// are written into the file; a torn last entry (the process died in the
// middle of writing it) was never acknowledged and is dropped. A damaged log
// is an error wrapping ErrStateFile too, and the logs are left as they are.
func OpenBoltStore(path string) (*BoltStore, error) {
	return OpenBoltStoreOptions(path, BoltOptions{})
}

// OpenBoltStoreOptions is OpenBoltStore with settings.
func OpenBoltStoreOptions(path string, o BoltOptions) (*BoltStore, error) {
	return openBoltStore(path, o, func(*BoltStore) {})
}

// openBoltStore opens a store; set changes settings that BoltOptions does
// not have (tests and measurements) before it opens.
func openBoltStore(path string, o BoltOptions, set func(*BoltStore)) (*BoltStore, error) {
	s := &BoltStore{path: path, checkpointBytes: o.CheckpointBytes}
	if s.checkpointBytes <= 0 {
		s.checkpointBytes = DefaultCheckpointBytes
	}
	s.chunk = int(min(walChunk, max(4096, s.checkpointBytes/8)))
	set(s)
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *BoltStore) open() error {
	path, noSync := s.path, s.noSync
	if err := checkTruncated(path); err != nil {
		return err
	}
	db, err := openBolt(path, noSync)
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return fmt.Errorf("state file %s is in use by another process", path)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum):
			return fmt.Errorf("%w: %s is damaged or not a bbolt database (%v); move it away to start afresh", ErrStateFile, path, err)
		case errors.Is(err, berrors.ErrVersionMismatch):
			return fmt.Errorf("%w: %s was written by an unsupported bbolt version (%v)", ErrStateFile, path, err)
		case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
			return fmt.Errorf("opening state file: %w", err)
		case errors.Is(err, ErrStateFile):
			return err
		default:
			return fmt.Errorf("%w: %s cannot be opened: %v", ErrStateFile, path, err)
		}
	}
	s.db = db
	if err := s.init(path); err != nil {
		_ = db.Close()
		return err
	}
	if err := s.openLog(); err != nil {
		if s.log != nil {
			_ = s.log.Close()
		}
		_ = db.Close()
		return err
	}
	return nil
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

// Load implements Store: the records in bbolt, changed by the entries of
// the logs on disk that bbolt does not hold yet.
func (s *BoltStore) Load(fn func(Record) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: reading the state file: %v", ErrStateFile, v)
		}
	}()
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	if s.broken != nil {
		return s.broken
	}
	entries, _, err := s.pendingLocked(walOldPath(s.path), walPath(s.path))
	if err != nil {
		return err
	}
	// The last value the logs give each record they change; nil: deleted.
	b := compact(entries)
	reset, changed := b.Reset, map[Kind]map[string][]byte{}
	for _, r := range b.Records {
		if changed[r.Kind] == nil {
			changed[r.Kind] = map[string][]byte{}
		}
		changed[r.Kind][r.Key] = r.Value
	}
	return s.db.View(func(tx *bolt.Tx) error {
		for _, k := range Kinds {
			if b := tx.Bucket([]byte(k)); b != nil && !reset {
				if err := b.ForEach(func(key, v []byte) error {
					if _, ok := changed[k][string(key)]; ok {
						return nil
					}
					return fn(Record{Kind: k, Key: string(key), Value: append([]byte(nil), v...)})
				}); err != nil {
					return err
				}
			}
			for key, v := range changed[k] {
				if v != nil {
					if err := fn(Record{Kind: k, Key: key, Value: v}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

var errStoreClosed = errors.New("the state file is closed")

// Commit implements Store: one entry appended to the write-ahead log and
// synced before it returns. A log that reached its size is then handed to
// a checkpoint (wal.go).
func (s *BoltStore) Commit(b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	if s.broken != nil {
		return s.broken
	}
	s.buf = appendWALEntry(s.buf[:0], s.seq+1, b)
	if err := s.appendLocked(s.buf); err != nil {
		return err
	}
	s.seq++
	s.cur.add(b, true)
	if s.size >= s.checkpointBytes {
		s.rotateLocked()
	}
	return nil
}

// applyBatch writes b into bbolt.
func applyBatch(tx *bolt.Tx, b Batch) error {
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
}

// appliedIn is the number of the last log entry written into bbolt.
func appliedIn(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(metaBucket).Get(walAppliedKey); len(v) == 8 {
		return le.Uint64(v)
	}
	return 0
}

// Close implements Store: it waits for a running checkpoint, writes the
// log into bbolt and removes it. A store whose log failed keeps its log
// for the next start.
func (s *BoltStore) Close() error {
	s.mu.Lock()
	done := s.ckDone
	s.mu.Unlock()
	if done != nil {
		<-done
	}
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.spare != nil {
		_ = s.spare.Close()
		s.spare = nil
	}
	var err error
	if s.broken == nil {
		err = s.closeLogLocked()
	} else if s.log != nil {
		_ = s.log.Close()
	}
	s.log = nil
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// closeLogLocked writes the logs into bbolt, closes FILE-wal and removes
// the logs.
func (s *BoltStore) closeLogLocked() error {
	entries, _, err := s.pendingLocked(walOldPath(s.path), walPath(s.path))
	if err == nil {
		err = s.checkpointLocked(entries)
	}
	if cerr := s.log.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the write-ahead log into %s: %w", s.path, err)
	}
	for _, p := range []string{walOldPath(s.path), walPath(s.path), walNewPath(s.path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(s.path)
}

// Len returns the number of stored records (for tests and measurements).
func (s *BoltStore) Len() int {
	n := 0
	_ = s.Load(func(Record) error { n++; return nil })
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
