package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// FileName is the name of the file store inside paragon's config directory.
const FileName = "secrets.json"

// ErrInsecureFile means the secrets file can be read or written by group or
// others; File refuses to use it until its mode is 0600.
var ErrInsecureFile = errors.New("secrets file is accessible by group or others")

// maxFileBytes bounds what File reads (many profiles of many items of
// MaxValueBytes each fit easily).
const maxFileBytes = 4 << 20

// fileLockTimeout bounds how long a writer waits for another process's write.
const fileLockTimeout = 10 * time.Second

// fileData is the JSON layout of the secrets file.
type fileData struct {
	Version  int                          `json:"version"`
	Profiles map[string]map[string]string `json:"profiles"`
}

// File is a Store in a JSON file of mode 0600, the fallback when no OS
// keyring is usable. It refuses to read a file that group or others may
// access. Writes are atomic (a temporary file in the same directory, fsync,
// rename, fsync of the directory), so a crash leaves either the old or the
// new file, never a torn one. Writers are serialized within the process by a
// mutex and across processes by a lock file next to it (<path>.lock).
type File struct {
	path string
	mu   sync.Mutex

	// Fault hooks for tests; nil means the real operation.
	afterTempWrite func(tmp string) error
	syncFile       func(f *os.File) error
	rename         func(oldpath, newpath string) error
}

// NewFile returns the file store at path (usually
// <os.UserConfigDir()>/paragon/secrets.json; see DefaultDir). The file and its
// directory (mode 0700) are created on the first write.
func NewFile(path string) *File { return &File{path: path} }

// Name returns "file".
func (s *File) Name() string { return "file" }

// Path returns the file's path.
func (s *File) Path() string { return s.path }

// Get implements Store.
func (s *File) Get(profile, item string) (string, error) {
	if err := checkKey(profile, item); err != nil {
		return "", err
	}
	d, err := s.read()
	if err != nil {
		return "", err
	}
	v, ok := d.Profiles[profile][item]
	if !ok {
		return "", notFound(s.Name(), profile, item)
	}
	return v, nil
}

// GetItems implements BatchGetter: one read of the file.
func (s *File) GetItems(profile string, items []string) (map[string]string, error) {
	d, err := s.read()
	if err != nil {
		return nil, err
	}
	vals := make(map[string]string, len(items))
	for _, it := range items {
		if v, ok := d.Profiles[profile][it]; ok {
			vals[it] = v
		}
	}
	return vals, nil
}

// Set implements Store.
func (s *File) Set(profile, item, value string) error {
	return s.SetItems(profile, []Entry{{item, value}})
}

// SetItems implements Batcher: the entries land in one atomic write.
func (s *File) SetItems(profile string, entries []Entry) error {
	for _, e := range entries {
		if err := checkSet(profile, e.Item, e.Value); err != nil {
			return err
		}
	}
	return s.update(func(d *fileData) bool {
		if d.Profiles[profile] == nil {
			d.Profiles[profile] = map[string]string{}
		}
		for _, e := range entries {
			d.Profiles[profile][e.Item] = e.Value
		}
		return true
	})
}

// Delete implements Store. Deleting an absent item is not an error and does
// not rewrite the file.
func (s *File) Delete(profile, item string) error {
	if err := checkKey(profile, item); err != nil {
		return err
	}
	return s.update(func(d *fileData) bool {
		if _, ok := d.Profiles[profile][item]; !ok {
			return false
		}
		delete(d.Profiles[profile], item)
		if len(d.Profiles[profile]) == 0 {
			delete(d.Profiles, profile)
		}
		return true
	})
}

// read loads the file; a missing file is an empty store.
func (s *File) read() (*fileData, error) {
	d := &fileData{Version: 1, Profiles: map[string]map[string]string{}}
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keystore: file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keystore: file: %s is not a regular file", s.path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("keystore: %w: %s has mode %#o; run `chmod 600 %s` (and check nobody else has read it)",
			ErrInsecureFile, s.path, perm, s.path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: file: reading %s: %w", s.path, err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("keystore: file: %s is larger than %d bytes", s.path, maxFileBytes)
	}
	// The decoder's error could quote a fragment of a secret: do not wrap it.
	if err := json.Unmarshal(b, d); err != nil || d.Profiles == nil {
		return nil, fmt.Errorf("keystore: file: %s is not a paragon secrets file (invalid JSON); move it away to start afresh", s.path)
	}
	return d, nil
}

// update runs read-modify-write under the in-process mutex and the
// cross-process lock file. change reports whether it changed anything.
func (s *File) update(change func(*fileData) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keystore: file: %w", err)
	}
	lk := flock.New(s.path+".lock", flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(context.Background(), fileLockTimeout)
	defer cancel()
	ok, err := lk.TryLockContext(ctx, 5*time.Millisecond)
	if err != nil {
		return fmt.Errorf("keystore: file: locking %s.lock: %w", s.path, err)
	}
	if !ok {
		return fmt.Errorf("keystore: file: could not lock %s.lock", s.path)
	}
	defer lk.Unlock()

	// Temporary files exist only while their writer holds this lock; any
	// left now are from a writer that crashed. They hold secrets: remove.
	s.removeStaleTemps()

	d, err := s.read()
	if err != nil {
		return err
	}
	if !change(d) {
		return nil
	}
	return s.write(d)
}

// write replaces the file atomically with d.
func (s *File) write(d *fileData) (err error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("keystore: file: encoding: %w", err)
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, s.tempPattern()) // mode 0600
	if err != nil {
		return fmt.Errorf("keystore: file: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	fail := func(step string, err error) error {
		return fmt.Errorf("keystore: file: writing %s failed at %s; the previous file is unchanged: %w", s.path, step, err)
	}
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fail("chmod", err)
	}
	if _, err := tmp.Write(b); err != nil {
		return fail("write", err)
	}
	if s.afterTempWrite != nil {
		if err := s.afterTempWrite(tmp.Name()); err != nil {
			return fail("write", err)
		}
	}
	syncFile := (*os.File).Sync
	if s.syncFile != nil {
		syncFile = s.syncFile
	}
	if err := syncFile(tmp); err != nil {
		return fail("fsync", err)
	}
	if err := tmp.Close(); err != nil {
		return fail("close", err)
	}
	rename := os.Rename
	if s.rename != nil {
		rename = s.rename
	}
	if err := rename(tmp.Name(), s.path); err != nil {
		return fail("rename", err)
	}
	renamed = true
	// Make the rename itself durable. Windows cannot fsync a directory.
	if runtime.GOOS != "windows" {
		if df, err := os.Open(dir); err == nil {
			serr := df.Sync()
			df.Close()
			if serr != nil {
				return fmt.Errorf("keystore: file: fsync of %s after writing %s: %w", dir, s.path, serr)
			}
		}
	}
	return nil
}

// tempPattern is the os.CreateTemp pattern of this store's temporary files.
func (s *File) tempPattern() string { return "." + filepath.Base(s.path) + ".*.tmp" }

// removeStaleTemps deletes temporary files left by a crashed writer. Call it
// only while holding the lock file.
func (s *File) removeStaleTemps() {
	dir := filepath.Dir(s.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := "." + filepath.Base(s.path) + "."
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ".tmp") && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, n))
		}
	}
}
