package fleet

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Paths of the system programs the package runs (Debian's locations,
// installed by scripts/system-packages.sh).
const (
	sshdPath    = "/usr/sbin/sshd"
	keygenPath  = "/usr/bin/ssh-keygen"
	ipPath      = "/usr/sbin/ip"
	unsharePath = "/usr/bin/unshare"
	nsenterPath = "/usr/bin/nsenter"
)

// require skips t, or fails it in CI, unless every path exists.
func require(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			unavailable(t, fmt.Sprintf("%s missing: run `make tools` (scripts/system-packages.sh)", p))
		}
	}
}

// requireRoot skips t, or fails it in CI, unless the process runs as root.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "a fleet needs root (network namespaces, bridges and bind mounts); CI runs as root")
	}
}

// unavailable fails t in CI and skips it elsewhere.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if v := strings.ToLower(os.Getenv("CI")); v != "" && v != "false" && v != "0" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
