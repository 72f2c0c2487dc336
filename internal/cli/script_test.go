package cli

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cutover/cutover/internal/envfile"
)

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"cutover":  func() int { return Main(os.Args, os.Stdin, os.Stdout, os.Stderr) },
		"svcctl":   svcctl,
		"exitcode": exitcode,
	}))
}

// TestScripts runs every CLI behaviour in testdata/script. Each script gets
// its own instance of appService on a loopback port as $SVC.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"scansecrets": scanSecretsCmd},
		Setup: func(env *testscript.Env) error {
			svc := newAppService(env.WorkDir)
			srv := httptest.NewServer(svc)
			env.Defer(srv.Close)
			env.Setenv("SVC", srv.URL)
			return nil
		},
	})
}

// exitcode runs `cutover ARGS...` in-process and succeeds only if it exits
// with the given code: `exec exitcode 3 cutover run plan.hcl`.
func exitcode() int {
	if len(os.Args) < 3 || os.Args[2] != "cutover" {
		fmt.Fprintln(os.Stderr, "usage: exitcode N cutover ARGS...")
		return 2
	}
	want := os.Args[1]
	got := Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	if fmt.Sprint(got) != want {
		fmt.Fprintf(os.Stderr, "exitcode: cutover exited %d, want %s\n", got, want)
		return 1
	}
	return 0
}

// svcctl is what a plan's restart step runs in the scripts: `svcctl restart`
// asks the app service to restart (re-read its env file), like systemctl.
func svcctl() int {
	if len(os.Args) != 2 || os.Args[1] != "restart" {
		fmt.Fprintln(os.Stderr, "usage: svcctl restart")
		return 2
	}
	resp, err := http.Post(os.Getenv("SVC")+"/restart", "text/plain", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "svcctl:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "svcctl: restart failed:", resp.Status)
		return 1
	}
	return 0
}

// appService is the service the scripts cut over: like a real app it reads
// its env file (app.env in the script's work dir) when it (re)starts, and is
// healthy on KMS_PROVIDER=local, or on AWS only when the file aws-reachable
// exists (the AWS KMS can be reached). It has pause/resume and an in-flight
// count that drains while paused, and appends what happens to journal.log.
type appService struct {
	mu       sync.Mutex
	dir      string
	provider string
	paused   bool
	inflight int
}

func newAppService(dir string) *appService {
	s := &appService{dir: dir, inflight: 3}
	s.load()
	return s
}

func (s *appService) load() {
	s.provider = "(none)"
	data, err := os.ReadFile(filepath.Join(s.dir, "app.env"))
	if err != nil {
		return
	}
	f, err := envfile.Parse(data)
	if err != nil {
		return
	}
	if v, ok := f.Get("KMS_PROVIDER"); ok {
		s.provider = v
	}
}

func (s *appService) journal(line string) {
	f, err := os.OpenFile(filepath.Join(s.dir, "journal.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

func (s *appService) healthy() bool {
	if s.provider == "local" {
		return true
	}
	_, err := os.Stat(filepath.Join(s.dir, "aws-reachable"))
	return s.provider == "AWS" && err == nil
}

func (s *appService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/restart":
		s.load()
		s.journal("restart provider=" + s.provider)
	case "/health":
		if !s.healthy() {
			s.journal("health 503")
			http.Error(w, "kms unavailable: provider "+s.provider, http.StatusServiceUnavailable)
			return
		}
		s.journal("health 200")
		fmt.Fprintf(w, "ok provider=%s\n", s.provider)
	case "/pause":
		s.paused = true
		s.journal("pause")
	case "/resume":
		s.paused = false
		s.journal("resume")
	case "/written":
		// work written under the running provider since the last restart
		if s.provider == "AWS" {
			fmt.Fprint(w, `[{"id": "item-7", "provider": "AWS"}, {"id": "item-8", "provider": "AWS"}]`)
			return
		}
		fmt.Fprint(w, `[]`)
	case "/inflight":
		if s.paused && s.inflight > 0 {
			s.inflight--
		}
		fmt.Fprintf(w, `{"inflight": %d}`, s.inflight)
	default:
		http.NotFound(w, r)
	}
}

// scanWindow is the length of the pieces of a secret scansecrets looks for:
// a secret cut short (the first bytes of it) is still found.
const scanWindow = 8

// scanSecretsCmd is `scansecrets SECRETS PATH...`: SECRETS lists one secret
// per line; every file under each PATH (undo/ and inputs.key aside: they
// hold secret bytes by design, 0600) must hold none of them, nor any
// scanWindow-byte piece of one. It fails naming each hit and counts what it
// read, so an empty scan cannot pass unnoticed.
func scanSecretsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: scansecrets SECRETS PATH...")
	}
	var pieces []string
	for _, line := range strings.Split(ts.ReadFile(args[0]), "\n") {
		for i := 0; i+min(scanWindow, len(line)) <= len(line) && line != ""; i++ {
			pieces = append(pieces, line[i:i+min(scanWindow, len(line))])
		}
	}
	files, hits := 0, 0
	for _, root := range args[1:] {
		err := filepath.WalkDir(ts.MkAbs(root), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "undo" {
				return filepath.SkipDir
			}
			if d.IsDir() || d.Name() == "inputs.key" {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			for _, p := range pieces {
				if bytes.Contains(data, []byte(p)) {
					ts.Logf("%s holds %q", path, p)
					hits++
				}
			}
			return nil
		})
		ts.Check(err)
	}
	ts.Logf("scansecrets: %d secret pieces, %d files, %d hits", len(pieces), files, hits)
	if hits > 0 {
		ts.Fatalf("secrets found")
	}
}
