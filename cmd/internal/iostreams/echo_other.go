//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package iostreams

import (
	"os"

	"golang.org/x/term"
)

// passwordFunctions returns what System uses for password prompts: here
// term.ReadPassword turns echo off itself once the read starts.
func passwordFunctions() (noEcho func(), read func() ([]byte, error)) {
	return nil, func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) }
}
