// Package providers defines the systems a plan talks to — key stores (`kms`
// blocks) and services (`minio` blocks) — and the registry through which the
// plan language decodes their blocks. Each backend lives in its own package
// under providers/ and registers itself in init; providers/all imports them all.
package providers

import (
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
)

// Block kinds of the plan language that declare a system.
const (
	KindKMS   = "kms"   // kms "<name>" { type = "<backend>" ... }: a key store
	KindMinIO = "minio" // minio "<name>" { ... }: a MinIO deployment
	// KindKubernetes: kubernetes "<name>" { ... }, a Kubernetes API server.
	KindKubernetes = "kubernetes"
)

// Kinds lists the block types that declare systems, in the order they are
// documented. A kind is "typed" when its blocks choose a backend with `type`.
var Kinds = []struct {
	Name  string
	Typed bool
	Doc   string // what a block of this kind declares, for docs/reference.md
}{
	{KindKMS, true, "A key store: where encryption keys are read from or copied to. Its `type` chooses the backend; the other attributes are the backend's."},
	{KindMinIO, false, "A MinIO deployment that steps drain, probe and read objects from."},
	{KindKubernetes, false, "A Kubernetes API server: env and restart steps change Secrets, ConfigMaps and pod templates in its namespace and roll workloads out."},
}

// Backend decodes one kind (and, for typed kinds, one type) of system block.
type Backend struct {
	Kind string
	// Type is the value of the block's `type` attribute; "" for untyped kinds.
	Type string
	// Doc is a one-line description shown in diagnostics that list backends.
	Doc string
	// Decode builds the system's configuration from its block body (without
	// the `type` attribute). The returned value is what steps receive when
	// they resolve a reference such as kms.local; it must not dial anything.
	Decode func(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics)
	// Config is a pointer to the struct Decode passes to
	// hcldecode.DecodeBody: its tags are the backend's attributes in
	// docs/reference.md.
	Config any
}

var (
	mu       sync.RWMutex
	backends = map[string]Backend{}
)

func key(kind, typ string) string { return kind + "/" + typ }

// Register adds a backend; a duplicate is a programming error and panics.
func Register(b Backend) {
	mu.Lock()
	defer mu.Unlock()
	k := key(b.Kind, b.Type)
	if _, dup := backends[k]; dup {
		panic(fmt.Sprintf("providers: duplicate backend %s", k))
	}
	backends[k] = b
}

// Lookup returns the backend for a block kind and type.
func Lookup(kind, typ string) (Backend, bool) {
	mu.RLock()
	defer mu.RUnlock()
	b, ok := backends[key(kind, typ)]
	return b, ok
}

// Types lists the registered types of a kind, sorted.
func Types(kind string) []string {
	mu.RLock()
	defer mu.RUnlock()
	var out []string
	for _, b := range backends {
		if b.Kind == kind {
			out = append(out, b.Type)
		}
	}
	sort.Strings(out)
	return out
}
