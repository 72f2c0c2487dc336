package cli

import "os"

// isTerminal reports whether f is an *os.File open on a terminal. A
// character device is not enough: /dev/null is one, and a run started with
// `</dev/null` (cron, CI, nohup) must not prompt and read end-of-file as an
// answer.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && file != nil && isTerminalFd(file.Fd())
}
