//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package iostreams

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// echoOff turns the terminal's echo off at once, keeping line editing and
// signals (as getpass does), so that nothing typed after the prompt appears
// can be echoed. The caller restores the saved state afterwards.
func echoOff(fd int) {
	st, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return
	}
	st.Lflag &^= unix.ECHO
	st.Lflag |= unix.ICANON | unix.ISIG
	st.Iflag |= unix.ICRNL
	_ = unix.IoctlSetTermios(fd, ioctlSetTermios, st)
}

// passwordFunctions returns what System uses for password prompts: echo is
// turned off before the prompt is written, then one line is read.
func passwordFunctions() (noEcho func(), read func() ([]byte, error)) {
	fd := int(os.Stdin.Fd())
	return func() { echoOff(fd) }, func() ([]byte, error) { return readLine(os.Stdin) }
}

// readLine reads up to a newline one byte at a time, so that nothing after
// the line is taken from the terminal.
func readLine(r io.Reader) ([]byte, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			switch b[0] {
			case '\n':
				return line, nil
			case '\r':
				continue
			default:
				line = append(line, b[0])
			}
			continue
		}
		if err == io.EOF && len(line) > 0 {
			return line, nil
		}
		if err != nil {
			return line, err
		}
	}
}
