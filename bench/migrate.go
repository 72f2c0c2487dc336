package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/vault"
)

// Section 1: key migration Vault KV v2 -> Vault KV v2 in KES's layout, on
// one Vault dev server: the source prefix "src" holds N KES-format values;
// each contender copies them to a fresh prefix of the same kv2/ mount.
// The section runs twice: on integrated storage (raft on disk, as
// production Vaults run; every write is an fsync'd raft commit) and on the
// dev server's memory (where a write costs about what a read does).

const migrateMount = "kv2"

// keyName is the i-th generated key name (valid for KES and every store).
func keyName(i int) string { return fmt.Sprintf("k-%06d", i) }

// migrateResult is one contender's outcome.
type migrateResult struct {
	wall     time.Duration // what the rate is computed over
	copied   int           // keys found at the target afterwards (LIST)
	reported string        // what the tool said
	success  bool          // the tool reported success
	extra    map[string]Float
}

// vaultStorage is one Vault storage the section runs on.
type vaultStorage struct {
	name string // "raft", "inmem": in metric names and directories
	raft bool
}

var migrateStorages = []vaultStorage{{"raft", true}, {"inmem", false}}

func (b *bench) runMigrate(ctx context.Context) error {
	for _, st := range migrateStorages {
		if err := b.runMigrateOn(ctx, st); err != nil {
			return fmt.Errorf("%s storage: %w", st.name, err)
		}
	}
	return nil
}

func (b *bench) runMigrateOn(ctx context.Context, st vaultStorage) error {
	n, conc := b.sizes.Keys, b.sizes.Concurrency
	dir, err := b.dir("migrate-" + st.name)
	if err != nil {
		return err
	}
	var srv servers
	defer srv.stopAll()
	b.logf("migrate: starting vault (%s storage)", st.name)
	v, err := testenv.StartVaultWith(mkdir(dir, "vault"), testenv.VaultOptions{Raft: st.raft})
	if err != nil {
		return err
	}
	srv.add(v)
	vaultPID, err := findPID("-dev-root-token-id=" + v.Token)
	if err != nil {
		return err
	}
	raw, err := rawVaultClient(v.Addr, v.Token, conc)
	if err != nil {
		return err
	}

	b.logf("migrate: writing %d KES-format keys to %s/data/src with the vault store", n, migrateMount)
	t0 := time.Now()
	if err := fillVault(ctx, v, "src", n); err != nil {
		return err
	}
	b.logf("migrate: source filled in %s", time.Since(t0).Round(time.Millisecond))
	values, err := readValues(ctx, raw, "src", n, conc)
	if err != nil {
		return err
	}

	pids := map[string]int{"vault": vaultPID}
	results := map[string][]*migrateResult{}
	run := func(name string, fn func() (*migrateResult, error)) error {
		b.logf("migrate: %s", name)
		m := newCPUMeter(pids)
		r, err := fn()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for k, v := range m.stop() {
			r.extra[k] = v
		}
		results[name] = append(results[name], r)
		b.logf("migrate: %s: %d copied in %s (%s)", name, r.copied, r.wall.Round(time.Millisecond), r.reported)
		return nil
	}
	var pooledDials atomic.Int64
	pooled, err := countingVaultClient(v.Addr, v.Token, conc, &pooledDials)
	if err != nil {
		return err
	}
	dialsOf := func(c *atomic.Int64, fn func() (*migrateResult, error)) func() (*migrateResult, error) {
		return func() (*migrateResult, error) {
			before := c.Load()
			r, err := fn()
			if r != nil {
				r.extra["tcp_dials"] = Float(c.Load() - before)
			}
			return r, err
		}
	}
	// Every contender but kes migrate runs once per round, interleaved,
	// each on a fresh prefix; the best round of each is reported, so the
	// mount's growth and Vault's own pauses weigh on all of them alike.
	// The diagnostic does migrate_keys' request pattern (read the source,
	// create, read back) without journal or engine: what the pattern
	// costs, apart from what the implementation adds.
	for round := 1; round <= b.sizes.Rounds; round++ {
		sfx := fmt.Sprintf("-%d", round)
		for _, c := range []struct {
			name string
			fn   func() (*migrateResult, error)
		}{
			{"raw", func() (*migrateResult, error) { return rawWrite(ctx, raw, "raw"+sfx, values, conc) }},
			{"cutover", func() (*migrateResult, error) {
				return b.cutoverMigrate(ctx, dir, v, "dst-cutover"+sfx, n, conc, st.name+"-"+strconv.Itoa(round))
			}},
			{"copy-pooled", dialsOf(&pooledDials, func() (*migrateResult, error) { return rawCopy(ctx, pooled, "diag-pooled"+sfx, n, conc) })},
		} {
			// with -cpuprofile: Vault's CPU profile over most of the
			// contender's first round
			wait := func() {}
			if secs := map[string]float64{"raw": 1, "cutover": 5, "copy-pooled": 4}[c.name]; secs > 0 && round == 1 {
				d := time.Duration(max(1, secs*float64(n)/10_000)) * time.Second
				wait = b.profileServer("vault-"+st.name+"-"+c.name+".pprof", d, vaultProfiler(v))
			}
			err := run(c.name, c.fn)
			wait()
			if err != nil {
				return err
			}
		}
	}
	if err := run("kes", func() (*migrateResult, error) { return b.kesMigrate(ctx, dir, v, raw, "src", "dst-kes") }); err != nil {
		return err
	}
	b.reportMigrate(st, n, conc, results)
	return b.migrateEqualWork(ctx, dir, v, raw, st, conc, pids)
}

// migrateRate is a contender's keys/s: 0 for a tool that copies fewer
// keys than exist, whatever it says.
func migrateRate(r *migrateResult, n int) float64 {
	if !r.success || r.copied < n {
		return 0
	}
	return Rate(int64(n), r.wall)
}

// bestOf returns the fastest of a contender's rounds, with every round's
// rate recorded in its extra numbers.
func bestOf(rs []*migrateResult, n int) *migrateResult {
	best := rs[0]
	for _, r := range rs[1:] {
		if migrateRate(r, n) > migrateRate(best, n) {
			best = r
		}
	}
	for i, r := range rs {
		best.extra[fmt.Sprintf("rate_round_%d", i+1)] = Float(migrateRate(r, n))
	}
	return best
}

// reportMigrate turns the contenders' results into metrics and targets.
func (b *bench) reportMigrate(st vaultStorage, n, conc int, all map[string][]*migrateResult) {
	res := map[string]*migrateResult{}
	for k, rs := range all {
		res[k] = bestOf(rs, n)
	}
	rate := func(r *migrateResult) float64 { return migrateRate(r, n) }
	cut, kes, raw, pooled := res["cutover"], res["kes"], res["raw"], res["copy-pooled"]
	cutRate, kesRate, rawRate := rate(cut), rate(kes), rate(raw)
	rounds := fmt.Sprintf("best of %d", len(all["cutover"]))
	add := func(name string, r *migrateResult, v float64, detail string) {
		extra := map[string]Float{"wall_s": Float(r.wall.Seconds()), "copied": Float(r.copied), "keys": Float(n)}
		for k, x := range r.extra {
			extra[k] = x
		}
		b.report.Add(Metric{Section: "migrate", Name: name + " [" + st.name + "]", Value: Float(v), Unit: "keys/s", Detail: detail, Extra: extra})
	}
	add("cutover migrate_keys (verify per key)", cut, cutRate,
		fmt.Sprintf("%d/%d at target; step %.2fs (%s), whole run %.2fs; concurrency %d; %.0f TCP connections closed by cutover; %s", cut.copied, n,
			cut.wall.Seconds(), rounds, float64(cut.extra["run_wall_s"]), conc, float64(cut.extra["tcp_closed_by_client"]), cpuText(cut.extra)))
	kesDetail := fmt.Sprintf("%d/%d at target in %.2fs, exit %s; says %q", kes.copied, n, kes.wall.Seconds(),
		fmtExtraInt(kes.extra["exit_code"]), kes.reported)
	if kes.success && kes.copied < n {
		kesDetail = fmt.Sprintf("reported success but copied only %d/%d: counted 0 keys/s (%.0f keys/s over what it copied); ",
			kes.copied, n, Rate(int64(kes.copied), kes.wall)) + kesDetail
	}
	add("kes migrate (v0.24.0, sequential)", kes, kesRate, kesDetail)
	add("raw Vault writer (the ceiling)", raw, rawRate, fmt.Sprintf("%d/%d at target in %.2fs (%s); PUT cas=0 only, %d at once; %s",
		raw.copied, n, raw.wall.Seconds(), rounds, conc, cpuText(raw.extra)))
	add("diagnostic: raw read+create+read-back", pooled, rate(pooled), fmt.Sprintf("%d/%d at target in %.2fs (%s); migrate_keys' 3 requests per key, no journal; %.0f TCP connections opened; %s",
		pooled.copied, n, pooled.wall.Seconds(), rounds, float64(pooled.extra["tcp_dials"]), cpuText(pooled.extra)))

	if kes.copied < n {
		b.report.Note("migrate [%s]: kes migrate copied %d of %d keys, so no ratio is stated at %d keys (its rate over the keys it did copy is %s keys/s); the comparison with kes migrate is the equal-work one, %d keys that it copies completely",
			st.name, kes.copied, n, n, FormatValue(Rate(int64(kes.copied), kes.wall)), b.sizes.KesEqualKeys)
	}
	b.report.AddTarget(Target{Section: "migrate", Name: "migrate_keys vs raw Vault writer [" + st.name + "]", Value: Float(Ratio(cutRate, rawRate)), Op: AtLeast, Limit: 0.8, Unit: "x",
		Detail: fmt.Sprintf("%s / %s keys/s; Vault CPU per key: cutover %.2f ms, raw writer %.2f ms; vs the same 3 requests without cutover: %sx",
			FormatValue(cutRate), FormatValue(rawRate), perKeyMs(cut.extra["cpu_vault_s"], n), perKeyMs(raw.extra["cpu_vault_s"], n),
			FormatValue(Ratio(cutRate, rate(pooled))))})
}

func perKeyMs(cpu Float, n int) float64 { return float64(cpu) * 1000 / float64(n) }

// cpuText is a row's CPU seconds: the server's, and the client's (this
// harness and the children it reaped meanwhile, so a child such as kes
// migrate is in cpu_bench_s already; cpu_child_s is its own share).
func cpuText(extra map[string]Float) string {
	return fmt.Sprintf("CPU s: vault %.1f, client %.1f", float64(extra["cpu_vault_s"]), float64(extra["cpu_bench_s"]))
}

func fmtExtraInt(f Float) string { return strconv.Itoa(int(f)) }

func joinNonEmpty(parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += p
	}
	return out
}

// rawVaultClient is a vault/api client with enough idle connections for
// conc workers (the ceiling should not pay for reconnects).
func rawVaultClient(addr, token string, conc int) (*vaultapi.Client, error) {
	tr := &http.Transport{MaxIdleConns: 4 * conc, MaxIdleConnsPerHost: 4 * conc, IdleConnTimeout: 90 * time.Second}
	c, err := vaultapi.NewClient(&vaultapi.Config{Address: addr, HttpClient: &http.Client{Transport: tr, Timeout: 60 * time.Second},
		MaxRetries: 2, Timeout: 60 * time.Second})
	if err != nil {
		return nil, err
	}
	c.SetToken(token)
	return c, nil
}

// countingVaultClient is rawVaultClient with its dials counted.
func countingVaultClient(addr, token string, conc int, dials *atomic.Int64) (*vaultapi.Client, error) {
	c, err := rawVaultClient(addr, token, conc)
	if err != nil {
		return nil, err
	}
	tr := c.CloneConfig().HttpClient.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{Timeout: 30 * time.Second}).DialContext(ctx, network, address)
	}
	return c, nil
}

// rawCopy does what migrate_keys does per key over the wire, and nothing
// else: read version 1 at the source, create at the target with cas=0,
// read version 1 back and compare.
func rawCopy(ctx context.Context, c *vaultapi.Client, prefix string, n, conc int) (*migrateResult, error) {
	return timedRaw(ctx, c, prefix, n, conc, func(ctx context.Context, i int) error {
		name := keyName(i)
		v, err := readV1(ctx, c, "src", name)
		if err != nil {
			return err
		}
		if err := createV1(ctx, c, prefix, name, v); err != nil {
			return err
		}
		got, err := readV1(ctx, c, prefix, name)
		if err != nil {
			return err
		}
		if got != v {
			return fmt.Errorf("%s: read back a different value", name)
		}
		return nil
	})
}

// readV1 reads the stored string of key name at version 1 under prefix.
func readV1(ctx context.Context, c *vaultapi.Client, prefix, name string) (string, error) {
	s, err := c.Logical().ReadWithDataWithContext(ctx, migrateMount+"/data/"+prefix+"/"+name, map[string][]string{"version": {"1"}})
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", fmt.Errorf("%s/%s missing", prefix, name)
	}
	data, _ := s.Data["data"].(map[string]any)
	v, ok := data[name].(string)
	if !ok {
		return "", fmt.Errorf("%s/%s: no value", prefix, name)
	}
	return v, nil
}

// createV1 creates key name under prefix with value v (KV v2, cas=0).
func createV1(ctx context.Context, c *vaultapi.Client, prefix, name, v string) error {
	body := map[string]any{"options": map[string]any{"cas": 0}, "data": map[string]any{name: v}}
	_, err := c.Logical().WriteWithContext(ctx, migrateMount+"/data/"+prefix+"/"+name, body)
	return err
}

// timedRaw times fn(0..n-1), conc at once, then counts what prefix holds.
func timedRaw(ctx context.Context, c *vaultapi.Client, prefix string, n, conc int, fn func(context.Context, int) error) (*migrateResult, error) {
	start := time.Now()
	err := parallel(ctx, n, conc, fn)
	wall := time.Since(start)
	if err != nil {
		return nil, err
	}
	copied, err := countVault(ctx, c, prefix)
	if err != nil {
		return nil, err
	}
	return &migrateResult{wall: wall, copied: copied, success: true, reported: "no errors", extra: map[string]Float{}}, nil
}

// vaultStore opens cutover's vault store on a prefix of the mount.
func vaultStore(v *testenv.VaultServer, prefix string) (*vault.Store, error) {
	return vault.New(&vault.Config{Name: "kms." + prefix, Endpoint: v.Addr, Engine: migrateMount, Version: vault.V2,
		Prefix: prefix, Token: v.Token})
}

// fillVault creates n random AES-256 keys under prefix through the vault
// store (keskey.Encode values, cas=0), 32 at a time.
func fillVault(ctx context.Context, v *testenv.VaultServer, prefix string, n int) error {
	s, err := vaultStore(v, prefix)
	if err != nil {
		return err
	}
	return parallel(ctx, n, 32, func(ctx context.Context, i int) error {
		m := make([]byte, 32)
		if _, err := rand.Read(m); err != nil {
			return err
		}
		return s.Create(ctx, keyName(i), providers.Key{Material: m, Algorithm: "AES256"})
	})
}

// parallel calls fn(0..n-1) with at most workers at once and returns the
// first error (the others stop early).
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// readValues reads the exact stored string of every source key (version
// 1), so the raw writer writes byte-identical values.
func readValues(ctx context.Context, c *vaultapi.Client, prefix string, n, conc int) ([]string, error) {
	values := make([]string, n)
	err := parallel(ctx, n, conc, func(ctx context.Context, i int) (err error) {
		values[i], err = readV1(ctx, c, prefix, keyName(i))
		return err
	})
	return values, err
}

// rawWrite writes every value under prefix with plain vault/api KV v2
// writes (cas=0, as a create), conc at once: no journal, no read of the
// source, no read-back. It is the server's ceiling for this workload.
func rawWrite(ctx context.Context, c *vaultapi.Client, prefix string, values []string, conc int) (*migrateResult, error) {
	return timedRaw(ctx, c, prefix, len(values), conc, func(ctx context.Context, i int) error {
		return createV1(ctx, c, prefix, keyName(i), values[i])
	})
}

// countVault LISTs a prefix of the mount (Vault answers with every name).
func countVault(ctx context.Context, c *vaultapi.Client, prefix string) (int, error) {
	s, err := c.Logical().ListWithContext(ctx, migrateMount+"/metadata/"+prefix)
	if err != nil {
		return 0, err
	}
	if s == nil || s.Data == nil {
		return 0, nil
	}
	keys, _ := s.Data["keys"].([]any)
	return len(keys), nil
}

// cutoverMigrate runs a migrate_keys plan in-process; the rate is over the
// step's own time from state.json (the whole run, with preflight and plan
// load, is recorded too). label names the run's profile ("raft-1").
func (b *bench) cutoverMigrate(ctx context.Context, dir string, v *testenv.VaultServer, prefix string, n, conc int, label string) (*migrateResult, error) {
	pdir := filepath.Join(dir, prefix)
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return nil, err
	}
	src := migratePlan(v, "src", prefix, conc)
	port := v.Addr[strings.LastIndexByte(v.Addr, ':')+1:]
	tw0 := timeWaitTo(port)
	run, err := b.runPlan(ctx, pdir, src, []string{"vault_token=" + v.Token}, "migrate_keys-"+label)
	if err != nil {
		return nil, err
	}
	closed := newTimeWait(tw0, timeWaitTo(port))
	step, err := run.stepDuration("migrate_keys.copy")
	if err != nil {
		return nil, err
	}
	c, err := rawVaultClient(v.Addr, v.Token, 1)
	if err != nil {
		return nil, err
	}
	copied, err := countVault(ctx, c, prefix)
	if err != nil {
		return nil, err
	}
	created := run.output("migrate_keys.copy", "created")
	return &migrateResult{wall: step, copied: copied, success: created == strconv.Itoa(n),
		reported: "created=" + created + ", every key read back and compared",
		extra: map[string]Float{"run_wall_s": Float(run.Wall.Seconds()), "step_s": Float(step.Seconds()),
			"tcp_closed_by_client": Float(closed)}}, nil
}

// migratePlan is a plan copying every key of the from prefix to the dst
// prefix of the Vault's kv2 mount, conc keys at once.
func migratePlan(v *testenv.VaultServer, from, dst string, conc int) string {
	return fmt.Sprintf(`cutover "bench-migrate" {}
variable "vault_token" { sensitive = true }
kms "src" {
  type     = "vault"
  endpoint = %[1]q
  engine   = %[2]q
  version  = "v2"
  prefix   = %[5]q
  token    = var.vault_token
}
kms "dst" {
  type     = "vault"
  endpoint = %[1]q
  engine   = %[2]q
  version  = "v2"
  prefix   = %[4]q
  token    = var.vault_token
}
step "migrate_keys" "copy" {
  from        = kms.src
  to          = kms.dst
  concurrency = %[3]d
}
`, v.Addr, migrateMount, conc, dst, from)
}

// timeWaitTo returns the local ports of this machine's TCP sockets in
// TIME_WAIT towards port (hex in /proc/net/tcp): connections a client
// closed, each one dialed before. They last 60s, so a run is measured by
// the ports that were not there before it.
func timeWaitTo(port string) map[string]bool {
	out := map[string]bool{}
	p, err := strconv.Atoi(port)
	if err != nil {
		return out
	}
	want := fmt.Sprintf(":%04X", p)
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[3] == "06" && strings.HasSuffix(f[2], want) {
			out[f[1]] = true
		}
	}
	return out
}

// newTimeWait counts the TIME_WAIT sockets of after that before lacks.
func newTimeWait(before, after map[string]bool) int {
	n := 0
	for k := range after {
		if !before[k] {
			n++
		}
	}
	return n
}

var kesMigrated = regexp.MustCompile(`Migrated\s+(\d+) keys? successfully`)

// kesMigrate runs `kes migrate --from src.yml --to dst.yml` between two
// KES configs whose keystores are the prefixes from and to, each with its
// own AppRole (written by testenv for a KES server that is started once,
// so the configs are known good, and stopped before the migration).
func (b *bench) kesMigrate(ctx context.Context, dir string, v *testenv.VaultServer, raw *vaultapi.Client, from, to string) (*migrateResult, error) {
	kesBin, err := b.tool("kes")
	if err != nil {
		return nil, err
	}
	cfgs := map[string]string{}
	for _, prefix := range []string{from, to} {
		k, err := testenv.StartKES(mkdir(dir, "kes-"+prefix), testenv.KESOptions{Vault: v, Engine: migrateMount, Prefix: prefix})
		if err != nil {
			return nil, fmt.Errorf("kes config for %s: %w", prefix, err)
		}
		k.Stop()
		cfgs[prefix] = k.ConfigFile
	}
	home := filepath.Join(dir, "kes-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	start := time.Now()
	stdout, stderr, code, err := runCmdUsage(mctx, []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")},
		kesBin, "migrate", "--from", cfgs[from], "--to", cfgs[to])
	wall := time.Since(start)
	if err != nil {
		return nil, err
	}
	copied, err := countVault(ctx, raw, to)
	if err != nil {
		return nil, err
	}
	said := ""
	if m := kesMigrated.FindStringSubmatch(stdout.out); m != nil {
		said = m[0]
	} else if code != 0 {
		said = lastLine(stderr)
	}
	return &migrateResult{wall: wall, copied: copied, success: code == 0 && said != "", reported: said,
		extra: map[string]Float{"exit_code": Float(code), "cpu_child_s": Float(stdout.cpu.Seconds()), "maxrss_child_mib": Float(stdout.maxRSSMiB)}}, nil
}

// childRun is a child's stdout and resource use.
type childRun struct {
	out string
	cpu time.Duration
	// maxRSSMiB is the child's own peak RSS: the last VmHWM read from
	// /proc/<pid>/status, sampled every 10ms while it runs (VmHWM is the
	// high-water mark of the process's address space since its exec).
	maxRSSMiB float64
	// ruMaxRSSMiB is wait4's ru_maxrss. On Linux it is NOT the child's
	// own peak: the kernel keeps the high-water mark across exec, and Go
	// starts children with vfork, so it includes this harness's RSS at
	// the time of the fork.
	ruMaxRSSMiB float64
}

// runCmdUsage is runCmd that also returns the child's CPU time and peak
// RSS.
func runCmdUsage(ctx context.Context, env []string, argv ...string) (childRun, string, int, error) {
	cmd := newCmd(ctx, env, argv...)
	var o, e limitedBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	var cr childRun
	if err := cmd.Start(); err != nil {
		return cr, "", -1, err
	}
	// Start returns once the child has exec'd: every VmHWM read from now
	// on is the new program's.
	done := make(chan struct{})
	var hwm atomic.Int64
	go func() {
		path := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if kb := readVmHWM(path); kb > hwm.Load() {
				hwm.Store(kb)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cr.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			cr.ruMaxRSSMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
		}
	}
	cr.maxRSSMiB = float64(hwm.Load()) / 1024
	if err != nil && code >= 0 {
		err = nil
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%s: timed out", argv[0])
	}
	cr.out = o.String()
	return cr, e.String(), code, err
}

// readVmHWM returns the VmHWM line of a /proc/<pid>/status file, in KiB;
// 0 when the process is gone.
func readVmHWM(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb
		}
	}
	return 0
}
