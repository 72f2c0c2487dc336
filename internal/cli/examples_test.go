package cli

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// commandPaths lists every command of the app by its path under cutover
// ("keys restore"), with the command ("" is the app itself: nil).
func commandPaths(app *cli.App) map[string]*cli.Command {
	out := map[string]*cli.Command{"": nil}
	var walk func(prefix string, cs []*cli.Command)
	walk = func(prefix string, cs []*cli.Command) {
		for _, c := range cs {
			p := strings.TrimSpace(prefix + " " + c.Name)
			out[p] = c
			walk(p, c.Subcommands)
		}
	}
	walk("", app.Commands)
	return out
}

func testApp() *cli.App {
	return newApp(strings.NewReader(""), &console{})
}

// TestEveryCommandHasExamples: a command added without examples fails
// here, and so does an example for a command that does not exist.
func TestEveryCommandHasExamples(t *testing.T) {
	paths := commandPaths(testApp())
	for p := range paths {
		if len(examples[p]) == 0 {
			t.Errorf("command %q has no examples: add them to examples in internal/cli/examples.go", "cutover "+p)
		}
	}
	for p := range examples {
		if _, ok := paths[p]; !ok {
			t.Errorf("examples for %q, which is not a command", "cutover "+p)
		}
	}
}

// TestExamplesUseRealFlags: every cutover command line in the examples
// names a command that exists and only flags that command has.
func TestExamplesUseRealFlags(t *testing.T) {
	paths := commandPaths(testApp())
	for _, list := range examples {
		for _, ex := range list {
			for _, seg := range strings.Split(ex.line, "&&") {
				checkExampleLine(t, paths, strings.Fields(seg))
			}
		}
	}
}

func checkExampleLine(t *testing.T, paths map[string]*cli.Command, words []string) {
	t.Helper()
	line := strings.Join(words, " ")
	for len(words) > 0 && strings.Contains(words[0], "=") { // VAR=value before the command
		words = words[1:]
	}
	if len(words) == 0 || words[0] != "cutover" {
		t.Errorf("example %q does not run cutover", line)
		return
	}
	words = words[1:]
	path := ""
	for len(words) > 0 {
		next := strings.TrimSpace(path + " " + words[0])
		if _, ok := paths[next]; !ok || paths[next] == nil {
			break
		}
		path, words = next, words[1:]
	}
	c := paths[path]
	if c == nil {
		t.Errorf("example %q names no command", line)
		return
	}
	known := map[string]bool{"help": true, "h": true}
	for _, f := range c.Flags {
		for _, n := range f.Names() {
			known[n] = true
		}
	}
	for _, w := range words {
		if w == ">" {
			break
		}
		if name, ok := strings.CutPrefix(w, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if !known[name] {
				t.Errorf("example %q: cutover %s has no flag --%s", line, path, name)
			}
		}
	}
}
