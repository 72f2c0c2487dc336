package supervisor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadEnvFile reads an environment file such as /etc/default/minio and
// returns its variables as KEY=VALUE strings, in file order.
//
// The format is the one systemd's EnvironmentFile= and shell-sourced
// defaults files share: one KEY=VALUE per line; blank lines and lines
// starting with '#' are skipped; an optional "export " prefix is
// dropped; a value wholly enclosed in single or double quotes is
// unquoted (inside double quotes, \" and \\ are unescaped). A line
// without '=' or with an invalid name is an error naming the line.
func ReadEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env, err := ParseEnv(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return env, nil
}

// ParseEnv parses environment-file content in the format ReadEnvFile
// documents.
func ParseEnv(r io.Reader) ([]string, error) {
	var env []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		kv, ok, err := parseEnvLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if ok {
			env = append(env, kv)
		}
	}
	return env, sc.Err()
}

// parseEnvLine parses one line; ok is false for blank and comment lines.
func parseEnvLine(line string) (kv string, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", false, nil
	}
	line = strings.TrimPrefix(line, "export ")
	key, value, found := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	if !found {
		return "", false, fmt.Errorf("missing '=' in %q", line)
	}
	if !validEnvName(key) {
		return "", false, fmt.Errorf("invalid variable name %q", key)
	}
	return key + "=" + unquote(strings.TrimSpace(value)), true, nil
}

// validEnvName reports whether s is a shell variable name.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// unquote strips one pair of matching single or double quotes.
func unquote(v string) string {
	if len(v) < 2 {
		return v
	}
	switch q := v[0]; {
	case q == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1]
	case q == '"' && v[len(v)-1] == '"':
		r := strings.NewReplacer(`\"`, `"`, `\\`, `\`)
		return r.Replace(v[1 : len(v)-1])
	}
	return v
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
