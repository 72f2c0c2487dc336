package cli

import (
	"os"

	"golang.org/x/term"
)

// isTerminal reports whether f is an *os.File open on a terminal (a
// terminal ioctl answers, golang.org/x/term). A character device is not
// enough: /dev/null is one, and a run started with `</dev/null` (cron, CI,
// nohup) must not prompt and read end-of-file as an answer. Where x/term
// cannot tell, it says no: approve steps then need --yes or a flag file.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && file != nil && term.IsTerminal(int(file.Fd()))
}
