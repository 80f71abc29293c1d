package client

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileStore keeps a token in one JSON file, and for a device also its id
// and key: it implements [TokenStore] and [DeviceStore] with the standard
// library only, for a service that keeps its secrets in a file of its own
// choosing (the paragon CLI uses the OS keyring instead). Give each user and
// each device its own file:
//
//	dev := client.FileStore{Path: filepath.Join(dir, "device.json")}
//	alice := client.FileStore{Path: filepath.Join(dir, "alice.json")}
//
// The file holds secrets: it is written with mode 0600 (its directory 0700
// if FileStore creates it), atomically (a temporary file renamed over it),
// so a crash never leaves half a token. Lock takes an OS file lock on
// Path+".lock" (flock on Unix, LockFileEx on Windows), so processes sharing
// the file refresh once; a FileStore value is safe for concurrent use.
// There is no default path: Path is required.
type FileStore struct {
	// Path is the file's path; its directory is created when needed.
	Path string
}

var _ DeviceStore = FileStore{}

// fileStoreMu serializes the read-modify-write of Save and SaveDevice
// within the process (they keep each other's fields).
var fileStoreMu sync.Mutex

// fileStoreLockRetry is how often a waiting Lock tries again.
const fileStoreLockRetry = 10 * time.Millisecond

// fileContent is the file's JSON form.
type fileContent struct {
	DeviceID  string `json:"device_id,omitempty"`
	DeviceKey string `json:"device_key,omitempty"`
	Token     *Token `json:"token,omitempty"`
}

// Lock takes the cross-process lock of the file, waiting (and retrying
// every 10 ms) until it is free or ctx ends.
func (f FileStore) Lock(ctx context.Context) (func(), error) {
	if f.Path == "" {
		return nil, errorf("file store: Path is required")
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return nil, errorf("file store: %v", err)
	}
	fh, err := os.OpenFile(f.Path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errorf("file store: %v", err)
	}
	for {
		ok, err := tryLockFile(fh)
		if err != nil {
			fh.Close()
			return nil, errorf("file store: locking %s: %v", fh.Name(), err)
		}
		if ok {
			var once sync.Once
			return func() { once.Do(func() { unlockFile(fh); fh.Close() }) }, nil
		}
		if err := sleepCtx(ctx, fileStoreLockRetry); err != nil {
			fh.Close()
			return nil, err
		}
	}
}

func (f FileStore) read() (fileContent, error) {
	var c fileContent
	if f.Path == "" {
		return c, errorf("file store: Path is required")
	}
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, errorf("file store: %v", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, errorf("file store: %s is not a paragon token file: %v", f.Path, err)
	}
	return c, nil
}

func (f FileStore) write(c fileContent) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return errorf("file store: %v", err)
	}
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errorf("file store: %v", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.Path)+".*.tmp")
	if err != nil {
		return errorf("file store: %v", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		tmp.Close()
		return errorf("file store: %v", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return errorf("file store: %v", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return errorf("file store: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return errorf("file store: %v", err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return errorf("file store: %v", err)
	}
	return nil
}

// Load reads the stored token; (nil, nil) when the file or its token does
// not exist yet.
func (f FileStore) Load() (*Token, error) {
	c, err := f.read()
	return c.Token, err
}

// Save replaces the stored token, keeping the device fields.
func (f FileStore) Save(t *Token) error {
	if t == nil {
		return errorf("file store: nil token")
	}
	fileStoreMu.Lock()
	defer fileStoreMu.Unlock()
	c, err := f.read()
	if err != nil {
		return err
	}
	c.Token = t
	return f.write(c)
}

// LoadDevice returns the stored device id and key ("" when none).
func (f FileStore) LoadDevice() (string, ed25519.PrivateKey, error) {
	c, err := f.read()
	if err != nil || c.DeviceID == "" {
		return "", nil, err
	}
	if c.DeviceKey == "" {
		return c.DeviceID, nil, nil
	}
	key, err := UnmarshalPrivateKey(c.DeviceKey)
	if err != nil {
		return "", nil, errorf("file store: %s: %v", f.Path, err)
	}
	return c.DeviceID, key, nil
}

// SaveDevice stores the device id and key ([MarshalPrivateKey]), keeping
// the token.
func (f FileStore) SaveDevice(id string, key ed25519.PrivateKey) error {
	fileStoreMu.Lock()
	defer fileStoreMu.Unlock()
	c, err := f.read()
	if err != nil {
		return err
	}
	c.DeviceID, c.DeviceKey = id, ""
	if key != nil {
		c.DeviceKey = MarshalPrivateKey(key)
	}
	return f.write(c)
}
