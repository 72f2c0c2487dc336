package fleet

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ownIDs are the ids of every network this process created.
var ownIDs idSet

// idSet is a set of network ids safe for concurrent use.
type idSet struct {
	sync.Mutex
	ids []string
}

// add records id.
func (s *idSet) add(id string) {
	s.Lock()
	defer s.Unlock()
	s.ids = append(s.ids, id)
}

// list returns the ids recorded.
func (s *idSet) list() []string {
	s.Lock()
	defer s.Unlock()
	return append([]string(nil), s.ids...)
}

// Leftovers returns an error naming every network namespace, link or
// process that this test process created through the package (fleets
// and SSHD servers) and that still exists. Call it when none should run
// any more, e.g. in TestMain after m.Run.
func Leftovers() error {
	var mine []string
	prefix := fmt.Sprintf("%s%d-", netnsPrefix, os.Getpid())
	for _, ns := range listNetns() {
		if strings.HasPrefix(ns, prefix) {
			mine = append(mine, ns)
		}
	}
	started.Lock()
	pids := append([]int(nil), started.pids...)
	started.Unlock()
	return leftovers(mine, ownIDs.list(), nil, pids)
}

// leftovers reports which of the namespaces, the links of the network
// ids, the processes in namespaces with the given inode names
// ("net:[…]", "mnt:[…]") and the pids still exist.
func leftovers(namespaces, ids, nsInodes []string, pids []int) error {
	var found []string
	existing := map[string]bool{}
	for _, ns := range listNetns() {
		existing[ns] = true
	}
	for _, ns := range namespaces {
		if existing[ns] {
			found = append(found, "network namespace "+ns)
		}
	}
	for _, l := range linksOf(ids) {
		found = append(found, "link "+l)
	}
	for _, p := range pids {
		if alive(p) {
			found = append(found, fmt.Sprintf("process %d (%s)", p, cmdline(p)))
		}
	}
	found = append(found, processesIn(nsInodes)...)
	if len(found) > 0 {
		return errors.New("fleet: left over: " + strings.Join(found, "; "))
	}
	return nil
}

// processesIn describes every live process in one of the namespaces.
func processesIn(nsInodes []string) []string {
	want := map[string]bool{}
	for _, ino := range nsInodes {
		if ino != "" {
			want[ino] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	var found []string
	for _, p := range allPIDs() {
		for _, kind := range []string{"net", "mnt"} {
			ino, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", p, kind))
			if want[ino] && alive(p) {
				found = append(found, fmt.Sprintf("process %d (%s) in %s", p, cmdline(p), ino))
				break
			}
		}
	}
	return found
}

// cmdline returns a process's command line, spaces between arguments.
func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// listNetns lists the named network namespaces (/run/netns).
func listNetns() []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// linksOf lists the links whose names belong to one of the network ids.
func linksOf(ids []string) []string {
	out, err := run(ipPath, "-o", "link", "show")
	if err != nil {
		return nil
	}
	var found []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		for _, id := range ids {
			if id != "" && strings.HasPrefix(name, "cf"+id) {
				found = append(found, name)
			}
		}
	}
	return found
}

// removeNetwork kills every process in the namespaces, then deletes the
// links of id and the namespaces.
func removeNetwork(id string, namespaces []string) error {
	var errs []error
	for _, ns := range namespaces {
		for _, p := range netnsPIDs(ns) {
			killTree(p)
		}
	}
	for _, l := range linksOf([]string{id}) {
		if _, err := run(ipPath, "link", "del", l); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			errs = append(errs, err)
		}
	}
	existing := map[string]bool{}
	for _, ns := range listNetns() {
		existing[ns] = true
	}
	for _, ns := range namespaces {
		if existing[ns] {
			if _, err := run(ipPath, "netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// sweepStale removes the namespaces and links of fleets whose test
// process has died (killed before its cleanup could run).
func sweepStale() {
	stale := map[string][]string{} // id -> namespaces
	for _, ns := range listNetns() {
		rest, ok := strings.CutPrefix(ns, netnsPrefix)
		if !ok {
			continue
		}
		parts := strings.SplitN(rest, "-", 3) // pid, id, node
		if len(parts) != 3 {
			continue
		}
		pid, err := strconv.Atoi(parts[0])
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		stale[parts[1]] = append(stale[parts[1]], ns)
	}
	for id, nss := range stale {
		_ = removeNetwork(id, nss)
	}
}
