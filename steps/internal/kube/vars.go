package kube

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/cutover/cutover/internal/envfile"
)

// Vars are the variables one object holds: a data map (Secret,
// ConfigMap; values are bytes, kept exactly) or a container's env list
// (order kept; entries taking their value from elsewhere, valueFrom, are
// kept as they are and cannot be set).
type Vars struct {
	m   map[string]string // data; nil for an env list
	env []corev1.EnvVar
}

func bytesVars(data map[string][]byte) *Vars {
	v := &Vars{m: map[string]string{}}
	for k, b := range data {
		v.m[k] = string(b)
	}
	return v
}

func stringVars(data map[string]string) *Vars {
	v := &Vars{m: map[string]string{}}
	for k, s := range data {
		v.m[k] = s
	}
	return v
}

func envVars(env []corev1.EnvVar) *Vars {
	return &Vars{env: append([]corev1.EnvVar{}, env...)}
}

// Keys lists the variables with a value: a map's keys sorted, an env
// list's literal entries in order.
func (v *Vars) Keys() []string {
	if v.m != nil {
		return sortedKeys(v.m)
	}
	var keys []string
	seen := map[string]bool{}
	for _, e := range v.env {
		if e.ValueFrom == nil && !seen[e.Name] {
			seen[e.Name] = true
			keys = append(keys, e.Name)
		}
	}
	return keys
}

// Get returns a variable's value; for an env list, the last entry of that
// name, when it holds a literal value.
func (v *Vars) Get(key string) (string, bool) {
	if v.m != nil {
		s, ok := v.m[key]
		return s, ok
	}
	for i := len(v.env) - 1; i >= 0; i-- {
		if v.env[i].Name == key {
			return v.env[i].Value, v.env[i].ValueFrom == nil
		}
	}
	return "", false
}

// FromElsewhere reports whether an env entry of that name takes its value
// from a Secret, a ConfigMap or a field (valueFrom): cutover cannot set it.
func (v *Vars) FromElsewhere(key string) bool {
	for _, e := range v.env {
		if e.Name == key && e.ValueFrom != nil {
			return true
		}
	}
	return false
}

// Clone returns an independent copy.
func (v *Vars) Clone() *Vars {
	if v.m != nil {
		return stringVars(v.m)
	}
	return envVars(v.env)
}

// Set gives key the value: in a map, the entry; in an env list, every
// entry of that name, or a new one at the end.
func (v *Vars) Set(key, value string) {
	if v.m != nil {
		v.m[key] = value
		return
	}
	found := false
	for i := range v.env {
		if v.env[i].Name == key {
			v.env[i].Value, found = value, true
		}
	}
	if !found {
		v.env = append(v.env, corev1.EnvVar{Name: key, Value: value})
	}
}

// Unset removes key (every env entry of that name).
func (v *Vars) Unset(key string) {
	if v.m != nil {
		delete(v.m, key)
		return
	}
	out := v.env[:0:0]
	for _, e := range v.env {
		if e.Name != key {
			out = append(out, e)
		}
	}
	v.env = out
}

// encoded is the JSON form of Vars: map values as base64 of their bytes,
// so no byte is lost.
type encoded struct {
	Data map[string][]byte `json:"data,omitempty"`
	Env  []corev1.EnvVar   `json:"env,omitempty"`
	Map  bool              `json:"map,omitempty"`
}

// Encode returns v as JSON, byte-exact; DecodeVars reads it back.
func (v *Vars) Encode() []byte {
	e := encoded{Env: v.env, Map: v.m != nil}
	if v.m != nil {
		e.Data = map[string][]byte{}
		for k, s := range v.m {
			e.Data[k] = []byte(s)
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("kube: encoding variables: %v", err)) // maps of strings always encode
	}
	return b
}

// DecodeVars reads what Encode wrote.
func DecodeVars(b []byte) (*Vars, error) {
	var e encoded
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("reading saved variables: %w", err)
	}
	if e.Map {
		return bytesVars(e.Data), nil
	}
	return envVars(e.Env), nil
}

// Digest is the hex SHA-256 of Encode.
func (v *Vars) Digest() string { return digest(v.Encode()) }

// Diff lists the changes from old to new as env-file diff lines' data:
// old's keys first, then new keys.
func Diff(old, new *Vars) []envfile.Change {
	keys := old.Keys()
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	for _, k := range new.Keys() {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	var out []envfile.Change
	for _, k := range keys {
		c := envfile.Change{Key: k}
		c.Old, c.HadOld = old.Get(k)
		c.New, c.HasNew = new.Get(k)
		switch {
		case c.HadOld && c.HasNew && c.Old != c.New:
			c.Op = envfile.Changed
		case c.HadOld && !c.HasNew:
			c.Op = envfile.Removed
		case !c.HadOld && c.HasNew:
			c.Op = envfile.Added
		default:
			continue
		}
		out = append(out, c)
	}
	return out
}
