package fleet

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv selects what TestHelperFleet does in a child test process.
const helperEnv = "CUTOVER_FLEET_HELPER"

// TestHelperFleet is run by the cleanup tests in a child process: it
// starts a 2-node fleet, prints its namespaces and holder pids, then
// fails (mode "fatal") or waits to be killed (mode "kill").
func TestHelperFleet(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper for TestFleetCleanup*")
	}
	f := Start(t, Options{Nodes: 2})
	var pids []string
	for _, n := range f.Nodes {
		pids = append(pids, strconv.Itoa(n.holder.pid()), strconv.Itoa(n.SSH.current().pid()))
	}
	os.Stdout.WriteString("FLEET " + strings.Join(f.namespaces(), ",") + " " + f.net.id + " " + strings.Join(pids, ",") + "\n")
	if mode == "fatal" {
		t.Fatal("failing on purpose: the fleet's cleanup must still run")
	}
	time.Sleep(5 * time.Minute) // waits for the parent's SIGKILL; not synchronisation
}

// helperFleet is what a helper printed about its fleet.
type helperFleet struct {
	namespaces []string
	id         string
	pids       []int
}

// startHelper starts TestHelperFleet in mode and returns the running
// command and what it printed about its fleet.
func startHelper(t *testing.T, mode string) (*exec.Cmd, helperFleet) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFleet$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "FLEET" {
			h := helperFleet{namespaces: strings.Split(f[1], ","), id: f[2]}
			for _, p := range strings.Split(f[3], ",") {
				n, _ := strconv.Atoi(p)
				h.pids = append(h.pids, n)
			}
			go func() {
				for sc.Scan() { /* drain */
				}
			}()
			return cmd, h
		}
	}
	_ = cmd.Wait()
	t.Fatalf("helper printed no fleet:\n%s", strings.Join(seen, "\n"))
	return nil, helperFleet{}
}

// checkGone waits until none of h's namespaces, links and processes
// exists.
func checkGone(t *testing.T, h helperFleet) {
	t.Helper()
	err := waitFor("helper's fleet gone", 30*time.Second, func() error {
		return leftovers(h.namespaces, []string{h.id}, nil, h.pids)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFleetCleanupWhenTestFails(t *testing.T) {
	requireRoot(t)
	require(t, sshdPath, keygenPath, ipPath, unsharePath, nsenterPath)
	cmd, h := startHelper(t, "fatal")
	if err := cmd.Wait(); err == nil {
		t.Fatal("helper test passed; it should fail on purpose")
	}
	checkGone(t, h)
}

func TestFleetCleanupAfterTestBinaryKilled(t *testing.T) {
	requireRoot(t)
	require(t, sshdPath, keygenPath, ipPath, unsharePath, nsenterPath)
	cmd, h := startHelper(t, "kill")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !contains(listNetns(), h.namespaces[0]) {
		t.Fatalf("namespace %s vanished by itself; the sweep is untested", h.namespaces[0])
	}
	// The kernel kills the helper's processes (Pdeathsig); its
	// namespaces and links stay until the next fleet sweeps them.
	f := Start(t, Options{Nodes: 1})
	checkGone(t, h)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Leftovers(); err != nil {
		t.Fatal(err)
	}
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
