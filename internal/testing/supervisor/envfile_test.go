package supervisor

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/envfile"
)

// envForms is every form of an env file line with what systemd's
// EnvironmentFile makes of it; the table in README and ARCHITECTURE lists
// the same forms.
var envForms = []struct {
	line, key, want string // want "" with key "" for a line that sets nothing
}{
	{"A=plain", "A", "plain"},
	{"B=1 # not a comment", "B", "1 # not a comment"},
	{"C='single # $x \\n'", "C", `single # $x \n`},
	{`D="double \"q\" \$x \\ \n \z"`, "D", `double "q" $x \ \n \z`},
	{"  E =  spaced out  ", "E", "spaced out"},
	{"F=", "F", ""},
	{"G=a=b#c", "G", "a=b#c"},
	{"# a comment", "", ""},
	{"  ; a comment too", "", ""},
	{"", "", ""},
}

// envRefused are the forms a shell and systemd read differently (or that
// are not assignments): cutover and the supervisor both refuse them.
var envRefused = []string{
	"export H=1",      // systemd ignores the line, a shell sets H
	`I="x" # comment`, // systemd: `x# comment`, a shell: x
	`J=a\b`,           // systemd and a shell drop the backslash
	"K='open",         // quotes spanning lines
	"NOEQUALS",
	"1BAD=x",
	"BAD-NAME=x",
	"=x",
}

// TestEnvFormsBothSides: every form means the same to cutover's parser
// (envfile) and to the supervisor, and matches systemd's EnvironmentFile.
func TestEnvFormsBothSides(t *testing.T) {
	for _, f := range envForms {
		data := []byte("OK=1\n" + f.line + "\n")
		env, err := ParseEnv(data)
		if err != nil {
			t.Errorf("supervisor: %q: %v", f.line, err)
			continue
		}
		parsed, err := envfile.Parse(data)
		if err != nil {
			t.Errorf("envfile: %q: %v", f.line, err)
			continue
		}
		want := []string{"OK=1"}
		if f.key != "" {
			want = append(want, f.key+"="+f.want)
			if got, ok := parsed.Get(f.key); !ok || got != f.want {
				t.Errorf("envfile: %q: Get(%s) = %q, %v; want %q", f.line, f.key, got, ok, f.want)
			}
		}
		if !reflect.DeepEqual(env, want) {
			t.Errorf("supervisor: %q: %q, want %q", f.line, env, want)
		}
	}
	for _, line := range envRefused {
		data := []byte("OK=1\n" + line + "\n")
		if _, err := ParseEnv(data); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("supervisor: %q: %v, want an error naming line 2", line, err)
		}
		if _, err := envfile.Parse(data); err == nil {
			t.Errorf("envfile accepted %q", line)
		}
	}
}

// TestSupervisedChildSeesEnvFile: a real supervised child's environment
// holds, for every form, the value cutover's parser reads.
func TestSupervisedChildSeesEnvFile(t *testing.T) {
	tmp := t.TempDir()
	dir, envFile := filepath.Join(tmp, "d"), filepath.Join(tmp, "env")
	var content strings.Builder
	for _, f := range envForms {
		content.WriteString(f.line + "\n")
	}
	writeEnv(t, envFile, content.String())
	parsed, err := envfile.Parse([]byte(content.String()))
	if err != nil {
		t.Fatal(err)
	}
	startSupervisor(t, Config{Dir: dir, EnvFile: envFile, Grace: 5 * time.Second,
		Argv: []string{"sh", "-c", `for k in A B C D E F G; do eval "v=\$$k"; printf 'child %s=[%s]\n' "$k" "$v"; done; exec sleep 60`}})
	waitFor(t, "the child's environment", func() bool { return strings.Contains(readLog(t, dir), "child G=") })
	log := readLog(t, dir)
	for _, k := range parsed.Keys() {
		v, _ := parsed.Get(k)
		if line := "child " + k + "=[" + v + "]"; !strings.Contains(log, line) {
			t.Errorf("the child's environment lacks %q:\n%s", line, log)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/root"}
	over := []string{"HOME=/tmp", "A=1", "A=2"}
	want := []string{"PATH=/bin", "HOME=/tmp", "A=2"}
	if got := MergeEnv(base, over); !reflect.DeepEqual(got, want) {
		t.Errorf("MergeEnv = %q, want %q", got, want)
	}
}
