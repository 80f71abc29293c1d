//go:build (dragonfly && cgo) || (freebsd && cgo) || netbsd || openbsd

package keystore

import "errors"

// errNoFastPath: outside Linux every Secret Service read goes through
// godbus (secretservice_linux.go has the private connection).
var errNoFastPath = errors.New("no private Secret Service connection")

// errCollectionLocked is never returned here.
var errCollectionLocked = errors.New("the default collection is locked")

func (goKeyring) fastRead(string, []string, bool) (map[string]string, error) {
	return nil, errNoFastPath
}
