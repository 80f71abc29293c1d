package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"

	bolt "go.etcd.io/bbolt"
)

// The write-ahead log of a BoltStore. A bbolt transaction fsyncs twice (its
// data pages, then the meta page that makes them current); a commit of the
// server's group commit (commit.go) costs one fdatasync instead:
//
//   - Commit appends the batch to FILE-wal as one entry and fdatasyncs the
//     log once, then adds the batch to the log's changes in memory (the last
//     value of each record it changed). The log is written ahead with zeros
//     in steps (chunk), so that the fdatasync of an entry writes the entry's
//     blocks and not the file's size or block map, which a file system
//     journals.
//   - Checkpoint: once the log has CheckpointBytes (8 MiB by default), the
//     commit that passed the size, after its own fdatasync, renames FILE-wal
//     to FILE-wal-old and puts the next log in its place (FILE-wal-new,
//     header written and synced, then renamed; the directory synced): that
//     is all the next commit waits for. A goroutine then writes the old
//     log's changes from memory into bbolt in one transaction, together with
//     the number of the old log's last entry (meta key "wal"), and keeps
//     FILE-wal-old as the next FILE-wal-new: a recycled log's blocks are
//     written already, and the entries of its earlier life, numbered below
//     its header's base, read as its end. Commits go on into the new log
//     meanwhile; if it fills up before the checkpoint ends, it grows until
//     the next commit after the checkpoint. A failed checkpoint keeps
//     FILE-wal-old and is tried again by the next commit past the size.
//   - Open loads bbolt, then reads FILE-wal-old and FILE-wal, writes every
//     entry bbolt does not have yet into bbolt in one transaction, and
//     starts a new, empty log. Close (a clean shutdown) does the same and
//     removes the logs: the state file alone then holds the state.
//   - Load (at start, and when a failed commit makes the server rebuild its
//     state) reads bbolt, then the entries of the logs on disk that bbolt
//     does not have, in order.
//
// An entry is a 16-byte frame (payload length, CRC32C of length, number and
// payload, number; little-endian) and the batch in the record codec
// (codec.go). Entry numbers run on across logs without a gap; a log's header
// holds the number before its first entry. A crash in the middle of an
// append leaves a torn last entry: bytes that are not a valid entry, with no
// valid entry of the log after them. It was never acknowledged (the answer
// waits for the fdatasync) and is dropped. An unreadable entry followed by a
// valid one, a gap in the numbers, or a log that does not continue where
// bbolt ends is damage: the store refuses to open with an error wrapping
// ErrStateFile that says what to do, and leaves the files as they are.
//
// The log files are used only while the state file is open, and bbolt locks
// the state file: one process at a time has both.
const (
	walMagic      = "paragon-wal\n"
	walVersion    = 1
	walHeaderLen  = 28 // magic, version (u32), base (u64), CRC32C of the 24 bytes before it (u32)
	walFrameLen   = 16 // payload length (u32), CRC32C (u32), sequence number (u64)
	walMaxPayload = 1 << 30

	// DefaultCheckpointBytes is the size of the write-ahead log at which its
	// changes are written into the state file.
	DefaultCheckpointBytes = 8 << 20
	// walChunk is the step in which the log is written ahead with zeros.
	walChunk = 1 << 20
)

var (
	castagnoli    = crc32.MakeTable(crc32.Castagnoli)
	le            = binary.LittleEndian
	walAppliedKey = []byte("wal") // meta key: the number of the last log entry in bbolt
)

// The log files of the state file path.
func walPath(path string) string    { return path + "-wal" }
func walOldPath(path string) string { return path + "-wal-old" }
func walNewPath(path string) string { return path + "-wal-new" }

// walEntry is one committed batch.
type walEntry struct {
	seq   uint64
	batch Batch
}

// walLog is one parsed log file.
type walLog struct {
	base    uint64 // the sequence number before the first entry
	entries []walEntry
	end     int  // offset after the last complete entry
	torn    bool // after end neither zeros nor a recycled log's earlier entry: a last entry cut short, or (recycled) the remains of an earlier one
}

func (l *walLog) last() uint64 { return l.base + uint64(len(l.entries)) }

func appendWALHeader(b []byte, base uint64) []byte {
	start := len(b)
	b = append(b, walMagic...)
	b = le.AppendUint32(b, walVersion)
	b = le.AppendUint64(b, base)
	return le.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

func appendWALEntry(b []byte, seq uint64, batch Batch) []byte {
	start := len(b)
	b = append(b, make([]byte, walFrameLen)...)
	b = appendBatch(b, batch)
	le.PutUint32(b[start:], uint32(len(b)-start-walFrameLen))
	le.PutUint64(b[start+8:], seq)
	le.PutUint32(b[start+4:], frameSum(b[start:]))
	return b
}

// frameSum is the checksum of a frame (header and payload): length,
// sequence number and payload.
func frameSum(frame []byte) uint32 {
	return crc32.Update(crc32.Checksum(frame[:4], castagnoli), castagnoli, frame[8:])
}

// frameAt returns the payload length and sequence number of the frame at
// off if it is complete and its checksum holds.
func frameAt(b []byte, off int) (n int, seq uint64, ok bool) {
	if len(b)-off < walFrameLen {
		return 0, 0, false
	}
	n64 := uint64(le.Uint32(b[off:]))
	if n64 == 0 || n64 > walMaxPayload || n64 > uint64(len(b)-off-walFrameLen) {
		return 0, 0, false
	}
	n = int(n64)
	frame := b[off : off+walFrameLen+n]
	if frameSum(frame) != le.Uint32(frame[4:]) {
		return 0, 0, false
	}
	return n, le.Uint64(frame[8:]), true
}

// parseWAL reads a log file. A torn last entry and the zeros written ahead
// are not entries; damage is an error saying where.
func parseWAL(b []byte) (*walLog, error) {
	if len(b) < walHeaderLen {
		return nil, fmt.Errorf("%d bytes, too short for a log header", len(b))
	}
	if string(b[:len(walMagic)]) != walMagic {
		return nil, errors.New("not a paragon write-ahead log")
	}
	if crc32.Checksum(b[:24], castagnoli) != le.Uint32(b[24:]) {
		return nil, errors.New("its header is damaged")
	}
	if v := le.Uint32(b[12:]); v != walVersion {
		return nil, fmt.Errorf("log format version %d; this paragon reads version %d", v, walVersion)
	}
	l := &walLog{base: le.Uint64(b[16:]), end: walHeaderLen}
	stale := false
	for {
		n, seq, ok := frameAt(b, l.end)
		if stale = ok && seq <= l.base; !ok || stale {
			break // the end: no entry, or one of a recycled log's earlier life
		}
		if seq != l.last()+1 {
			return nil, fmt.Errorf("entry %d at byte %d follows entry %d", seq, l.end, l.last())
		}
		batch, err := decodeBatch(b[l.end+walFrameLen : l.end+walFrameLen+n])
		if err != nil {
			return nil, fmt.Errorf("entry %d at byte %d has a valid checksum but cannot be read (%v)", seq, l.end, err)
		}
		l.entries = append(l.entries, walEntry{seq: seq, batch: batch})
		l.end += walFrameLen + n
	}
	rest := b[l.end:]
	if len(bytes.TrimLeft(rest, "\x00")) == 0 {
		return l, nil
	}
	l.torn = !stale
	// Bytes that are no entry: a torn append or a recycled log's earlier
	// entries, unless a valid entry of this log follows. Its number would be
	// above the last one read, and each entry takes more than walFrameLen
	// bytes, which bounds the numbers to try.
	limit := l.last() + uint64(len(rest)/walFrameLen) + 1
	for p := l.end + 1; p+walFrameLen < len(b); p++ {
		if seq := le.Uint64(b[p+8:]); seq <= l.last() || seq > limit {
			continue
		}
		if _, seq, ok := frameAt(b, p); ok {
			return nil, fmt.Errorf("the entry after entry %d, at byte %d, is unreadable, but entry %d follows at byte %d", l.last(), l.end, seq, p)
		}
	}
	return l, nil
}

// pendingLocked reads the logs on disk (FILE-wal-old if it exists, then
// FILE-wal) and returns their entries that bbolt does not hold yet, in
// order, and the number of the last entry (bbolt's if the logs add none).
// Missing logs are empty. s.ckMu must be held.
func (s *BoltStore) pendingLocked(paths ...string) ([]walEntry, uint64, error) {
	applied, err := s.applied()
	if err != nil {
		return nil, 0, err
	}
	var out []walEntry
	last := applied
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) || err == nil && len(b) == 0 {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("reading the write-ahead log: %w", err)
		}
		l, err := parseWAL(b)
		if err != nil {
			return nil, 0, s.damaged(p, err)
		}
		if l.last() <= last {
			continue // all in bbolt already (a checkpoint ended before its log was removed)
		}
		if l.base > last {
			return nil, 0, s.damaged(p, fmt.Errorf("its first entry is %d, but the changes before it end at entry %d: entries are missing", l.base+1, last))
		}
		out = append(out, l.entries[last-l.base:]...)
		last = l.last()
	}
	return out, last, nil
}

// damaged is the error for a damaged log file.
func (s *BoltStore) damaged(log string, err error) error {
	return fmt.Errorf("%w: the write-ahead log %s of %s is damaged: %v; the changes in it cannot be replayed in order. "+
		"Restore %s and its log from a copy, or move the log away to start from the state file's last checkpoint "+
		"(the changes after it are lost), or move both away to start afresh",
		ErrStateFile, log, s.path, err, s.path)
}

// applied reads the number of the last log entry written into bbolt.
func (s *BoltStore) applied() (n uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n = appliedIn(tx)
		return nil
	})
	return n, err
}

// checkpointLocked writes entries into bbolt in one transaction; s.ckMu
// must be held.
func (s *BoltStore) checkpointLocked(entries []walEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.applyLocked(compact(entries), entries[len(entries)-1].seq)
}

// applyLocked writes b, the changes of the log entries up to number last,
// into bbolt in one transaction; s.ckMu must be held.
func (s *BoltStore) applyLocked(b Batch, last uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := applyBatch(tx, b); err != nil {
			return err
		}
		return tx.Bucket(metaBucket).Put(walAppliedKey, le.AppendUint64(nil, last))
	})
}

// changes is the effect of several batches as one: the last value each
// gives a record (nil: deleted), after a Reset if one of them resets. A
// refresh rewrites its token family, so a log holds many values of few
// records, and a checkpoint writes each record once.
type changes struct {
	b  Batch
	at map[Kind]map[string]int // index in b.Records
}

// add adds the batch b; with copy set, it keeps copies of the values.
func (c *changes) add(b Batch, copyValues bool) {
	if c.at == nil {
		c.at = map[Kind]map[string]int{}
	}
	if b.Reset {
		c.b = Batch{Reset: true}
		clear(c.at)
	}
	for _, r := range b.Records {
		if copyValues && r.Value != nil {
			r.Value = append([]byte{}, r.Value...)
		}
		if c.at[r.Kind] == nil {
			c.at[r.Kind] = map[string]int{}
		}
		if i, ok := c.at[r.Kind][r.Key]; ok {
			c.b.Records[i].Value = r.Value
			continue
		}
		c.at[r.Kind][r.Key] = len(c.b.Records)
		c.b.Records = append(c.b.Records, r)
	}
}

// compact returns the changes of entries as one batch.
func compact(entries []walEntry) Batch {
	var c changes
	for _, e := range entries {
		c.add(e.batch, false)
	}
	return c.b
}

// createLog writes an empty log numbered from base at path (its header,
// then zeros up to the growth step) and syncs it.
func (s *BoltStore) createLog(path string, base uint64) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("creating the write-ahead log: %w", err)
	}
	b := appendWALHeader(nil, base)
	if s.chunk > len(b) {
		b = append(b, make([]byte, s.chunk-len(b))...)
	}
	if _, err = f.WriteAt(b, 0); err == nil {
		err = s.sync(f)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, 0, fmt.Errorf("creating the write-ahead log: %w", err)
	}
	return f, int64(len(b)), nil
}

// newLogLocked returns the next log, numbered from base, at FILE-wal-new:
// the last checkpoint's log, recycled (its header is rewritten and synced),
// or a new one.
func (s *BoltStore) newLogLocked(base uint64) (*os.File, int64, error) {
	f, alloc := s.spare, s.spareAlloc
	if f == nil {
		return s.createLog(walNewPath(s.path), base)
	}
	s.spare = nil
	_, err := f.WriteAt(appendWALHeader(nil, base), 0)
	if err == nil {
		err = s.sync(f)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(walNewPath(s.path))
		return nil, 0, fmt.Errorf("preparing the write-ahead log: %w", err)
	}
	return f, alloc, nil
}

// startLogLocked puts a fresh, empty log numbered from base in place of
// FILE-wal (through FILE-wal-new, so that FILE-wal is always a whole log).
func (s *BoltStore) startLogLocked(base uint64) error {
	f, alloc, err := s.createLog(walNewPath(s.path), base)
	if err != nil {
		return err
	}
	if err := os.Rename(walNewPath(s.path), walPath(s.path)); err != nil {
		_ = f.Close()
		_ = os.Remove(walNewPath(s.path))
		return fmt.Errorf("starting the write-ahead log: %w", err)
	}
	if err := syncDir(s.path); err != nil {
		_ = f.Close()
		return err
	}
	if s.log != nil {
		_ = s.log.Close()
	}
	s.log, s.size, s.alloc, s.seq, s.cur = f, walHeaderLen, alloc, base, changes{}
	return nil
}

// openLog replays the logs left by the last run into bbolt and starts an
// empty log.
func (s *BoltStore) openLog() error {
	_ = os.Remove(walNewPath(s.path)) // a log being prepared when the last run stopped: never used
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, last, err := s.pendingLocked(walOldPath(s.path), walPath(s.path))
	if err != nil {
		return err
	}
	if err := s.checkpointLocked(entries); err != nil {
		return fmt.Errorf("replaying the write-ahead log into %s: %w", s.path, err)
	}
	if err := os.Remove(walOldPath(s.path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return s.startLogLocked(last)
}

// appendLocked writes entry e at the end of the log and syncs it. When that
// fails, the entry is overwritten with zeros, so that it does not come back
// at the next start (it was not acknowledged); if even that fails, the
// store is broken.
func (s *BoltStore) appendLocked(e []byte) error {
	end := s.size + int64(len(e))
	var err error
	if grow := end - s.alloc; grow > 0 && s.chunk > 0 {
		grow = (grow + int64(s.chunk) - 1) / int64(s.chunk) * int64(s.chunk)
		if _, err = s.log.WriteAt(make([]byte, grow), s.alloc); err == nil {
			s.alloc += grow
		}
	}
	if err == nil {
		_, err = s.log.WriteAt(e, s.size)
	}
	if err == nil && s.fault != nil {
		err = s.fault()
	}
	if err == nil {
		err = s.sync(s.log)
	}
	if err != nil {
		err = fmt.Errorf("writing the write-ahead log %s: %w", walPath(s.path), err)
		if _, zerr := s.log.WriteAt(make([]byte, len(e)), s.size); zerr != nil || s.sync(s.log) != nil {
			s.broken = fmt.Errorf("%w; the failed entry could not be erased: restart the server", err)
		}
		return err
	}
	s.size = end
	s.alloc = max(s.alloc, end)
	return nil
}

// rotateLocked starts a checkpoint: FILE-wal becomes FILE-wal-old, a fresh
// log takes its place, and a goroutine writes FILE-wal-old into bbolt. A
// failed checkpoint's FILE-wal-old is tried again instead.
func (s *BoltStore) rotateLocked() {
	if s.ckRunning {
		return
	}
	if !s.oldPending {
		f, alloc, err := s.newLogLocked(s.seq)
		if err != nil {
			s.ckErr = err
			return
		}
		// Windows renames no open file: the log is closed first, and opened
		// again if it cannot be renamed.
		_ = s.log.Close()
		if err := os.Rename(walPath(s.path), walOldPath(s.path)); err != nil {
			_ = f.Close()
			_ = os.Remove(walNewPath(s.path))
			s.ckErr = err
			if s.log, err = os.OpenFile(walPath(s.path), os.O_RDWR, 0); err != nil {
				s.log, s.broken = nil, fmt.Errorf("opening the write-ahead log %s again: %w; restart the server", walPath(s.path), err)
			}
			return
		}
		s.log = nil
		err = os.Rename(walNewPath(s.path), walPath(s.path))
		if err == nil {
			err = syncDir(s.path)
		}
		if err != nil {
			_ = f.Close()
			s.broken = fmt.Errorf("starting a new write-ahead log for %s: %w; restart the server", s.path, err)
			return
		}
		s.log, s.size, s.alloc, s.oldPending = f, walHeaderLen, alloc, true
		s.old, s.oldLast, s.cur = s.cur, s.seq, changes{}
	}
	s.ckRunning = true
	done := make(chan struct{})
	s.ckDone = done
	go func() {
		defer close(done)
		err := s.checkpointOld()
		s.mu.Lock()
		s.ckRunning, s.ckErr = false, err
		if err == nil {
			s.oldPending, s.old = false, changes{}
			s.checkpoints++
		}
		s.mu.Unlock()
	}()
}

// checkpointOld writes the changes of FILE-wal-old (s.old, kept in memory
// as they were committed) into bbolt, then keeps the file as the next log:
// its blocks are written already, so that appends into them change neither
// the file's size nor its block map, and their fdatasync writes the data
// only. The entries left in it are numbered below any new log's first
// entry, and read as its end. Only this goroutine and, when none runs, the
// committer touch s.old, s.spare and FILE-wal-new.
func (s *BoltStore) checkpointOld() error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.hook("checkpoint")
	if err := s.applyLocked(s.old.b, s.oldLast); err != nil {
		return fmt.Errorf("checkpoint of %s: %w", walOldPath(s.path), err)
	}
	s.hook("checkpointed")
	if s.spare == nil && s.chunk > 0 && os.Rename(walOldPath(s.path), walNewPath(s.path)) == nil {
		if f, err := os.OpenFile(walNewPath(s.path), os.O_RDWR, 0); err == nil {
			if fi, err := f.Stat(); err == nil {
				s.spare, s.spareAlloc = f, fi.Size()
				return nil
			}
			_ = f.Close()
		}
		_ = os.Remove(walNewPath(s.path))
		return nil
	}
	if err := os.Remove(walOldPath(s.path)); err != nil {
		return err
	}
	return syncDir(s.path)
}

func (s *BoltStore) hook(stage string) {
	if s.testHook != nil {
		s.testHook(stage)
	}
}

// sync makes f's written data durable (fdatasync where there is one).
func (s *BoltStore) sync(f *os.File) error {
	if s.noSync {
		return nil
	}
	return datasync(f)
}

// syncDir makes the creation, renaming and removal of files next to path
// durable. Windows cannot sync a directory (and needs not).
func syncDir(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing the directory of %s: %w", path, err)
	}
	return nil
}
