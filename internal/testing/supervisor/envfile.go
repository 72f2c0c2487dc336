package supervisor

import (
	"fmt"
	"os"
	"strings"

	"github.com/cutover/cutover/internal/envfile"
)

// ReadEnvFile reads an environment file such as /etc/default/minio and
// returns its variables as KEY=VALUE strings, in the order of their first
// assignment (the last assignment of a name wins).
//
// The dialect is cutover's, internal/envfile's: systemd's EnvironmentFile
// rules for every form it accepts (a '#' or ';' starts a comment only at the
// start of a line; an unquoted value runs to the end of the line, '#'
// included), and an error for the forms whose meaning a shell and systemd
// disagree on. So the supervised service sees exactly the values cutover
// reads and writes.
func ReadEnvFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env, err := ParseEnv(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return env, nil
}

// ParseEnv parses environment-file content as ReadEnvFile does.
func ParseEnv(data []byte) ([]string, error) {
	f, err := envfile.Parse(data)
	if err != nil {
		return nil, err
	}
	var env []string
	for _, k := range f.Keys() {
		v, _ := f.Get(k)
		env = append(env, k+"="+v)
	}
	return env, nil
}

// MergeEnv returns base with every variable of over set on top of it:
// a variable in both takes over's value; order is base's, then new
// names in over's order.
func MergeEnv(base, over []string) []string {
	out := make([]string, 0, len(base)+len(over))
	index := map[string]int{}
	for _, list := range [][]string{base, over} {
		for _, kv := range list {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := index[k]; ok {
				out[i] = kv
				continue
			}
			index[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// BaseEnv returns the minimal environment a supervised child starts
// from: PATH and HOME of the calling process, when set.
func BaseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
