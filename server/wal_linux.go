package server

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync writes f's data and what is needed to read it back (its size),
// not its times: one device flush when the blocks are written already.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
