// Package faultpoint lets crash-safety tests kill cutover at an exact point of
// a run. When the environment variable CUTOVER_FAULTPOINT equals the name
// passed to Hit, the process sends itself SIGKILL: no deferred function, no
// flush, exactly what a power cut or `kill -9` does. The variable is read at
// every call, is documented as a testing aid, and does nothing when unset.
package faultpoint

import (
	"os"
	"syscall"
)

// EnvVar names the point at which to die, e.g. "after-done:env.switch".
const EnvVar = "CUTOVER_FAULTPOINT"

// Hit kills the process if name is the configured fault point.
func Hit(name string) {
	if want := os.Getenv(EnvVar); want != "" && want == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// Armed reports whether a fault point is configured at all, so hot loops can
// skip formatting point names when it is not.
func Armed() bool { return os.Getenv(EnvVar) != "" }
