// Package faultpoint lets crash-safety tests interrupt cutover at an exact
// point of a run. When the environment variable CUTOVER_FAULTPOINT equals
// the name passed to Hit, the process sends itself SIGKILL: no deferred
// function, no flush, exactly what a power cut or `kill -9` does. The
// variable is read at every call, is documented as a testing aid, and does
// nothing when unset.
//
// With the value "full:<point>" the process instead fills the file system of
// the directory given to FillDir at that point (a file "faultpoint-full" in
// it, written until the file system refuses more) and goes on: how the
// crash-safety tests make the state directory full at an exact point.
//
// With the value "SIGHUP@<point>" the process does at that point what a
// dropped SSH connection does to it: its standard output and error become a
// pipe nobody reads (writes fail with EPIPE) and it gets SIGHUP; Hit then
// returns.
//
// With the value "pause@<point>" the process stops at that point until the
// test lets it go, through the FIFO named by CUTOVER_FAULTPOINT_FIFO: it
// writes "paused\n" to the FIFO (the test reads it: the process is there),
// then reads the FIFO to its end (the test opens it for writing and closes
// it once it has done what it wanted done at that point, such as killing a
// host). Other goroutines go on meanwhile.
package faultpoint

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// fullPrefix marks a point at which to fill the file system instead of dying.
const fullPrefix = "full:"

// hangupPrefix marks a point at which the terminal goes away.
const hangupPrefix = "SIGHUP@"

// pausePrefix marks a point at which to wait for the test (FIFOVar).
const pausePrefix = "pause@"

// FIFOVar names the FIFO a "pause@<point>" fault talks to the test through.
const FIFOVar = "CUTOVER_FAULTPOINT_FIFO"

var fillDir string

// FillDir sets the directory whose file system a "full:<point>" fault fills
// (the engine passes its state directory).
func FillDir(dir string) { fillDir = dir }

// EnvVar names the point at which to die, e.g. "after-done:env.switch", to
// fill the state directory ("full:after-done:env.switch") or to lose the
// terminal ("SIGHUP@after-done:env.switch").
const EnvVar = "CUTOVER_FAULTPOINT"

// Hit kills the process, fills the file system or hangs up the terminal if
// name is the configured fault point.
func Hit(name string) {
	want := os.Getenv(EnvVar)
	switch {
	case want == "":
	case want == name:
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	case strings.HasPrefix(want, fullPrefix) && want[len(fullPrefix):] == name && fillDir != "":
		fill(filepath.Join(fillDir, "faultpoint-full"))
	case strings.HasPrefix(want, hangupPrefix) && want[len(hangupPrefix):] == name:
		hangup()
	case strings.HasPrefix(want, pausePrefix) && want[len(pausePrefix):] == name:
		pause(os.Getenv(FIFOVar))
	}
}

// pause says "paused" on the FIFO, then waits for its writer to close it.
func pause(fifo string) {
	if fifo == "" {
		return
	}
	if err := os.WriteFile(fifo, []byte("paused\n"), 0); err != nil {
		return
	}
	_, _ = os.ReadFile(fifo)
}

// fill writes zeros to path until the file system is full: large chunks,
// then single bytes for the rest of the last block.
func fill(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for n := len(chunk); n > 0; n /= 16 {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	_ = f.Sync() // best effort: the file system is full, which is the point
}

// hangup replaces stdout and stderr with the write end of a pipe whose
// read end is closed, then sends the process SIGHUP.
func hangup() {
	var p [2]int
	if err := syscall.Pipe(p[:]); err == nil {
		_ = syscall.Close(p[0])
		_ = dupOnto(p[1], 1)
		_ = dupOnto(p[1], 2)
		_ = syscall.Close(p[1])
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGHUP)
}

// Armed reports whether a fault point is configured at all, so hot loops can
// skip formatting point names when it is not.
func Armed() bool { return os.Getenv(EnvVar) != "" }
