// Package ptytest opens pseudo-terminals for tests (Linux): a program whose
// standard streams are the terminal end believes it runs on a terminal, and
// the test reads what it drew from the other end. Closing the controller
// end hangs the terminal up, as a dropped SSH connection does.
package ptytest

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Open returns a new pseudo-terminal: ptm, the controller the test reads
// and closes, and pts, the terminal a program is given.
func Open() (ptm, pts *os.File, err error) {
	ptm, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		ptm.Close()
		return nil, nil, fmt.Errorf("unlock the pseudo-terminal: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		ptm.Close()
		return nil, nil, fmt.Errorf("pseudo-terminal number: %w", err)
	}
	pts, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ptm.Close()
		return nil, nil, err
	}
	// a wide terminal: the lines the tests compare are not wrapped
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 250}); err != nil {
		ptm.Close()
		pts.Close()
		return nil, nil, err
	}
	return ptm, pts, nil
}
