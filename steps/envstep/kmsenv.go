package envstep

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
	"github.com/cutover/cutover/providers/miniostatic"
)

// kmsPrefix starts every variable through which MinIO chooses its KMS
// (MINIO_KMS_SECRET_KEY, MINIO_KMS_KES_*, MINIO_KMS_SERVER, ...). An env
// step that sets, unsets or comments out one of them changes MinIO's KMS,
// and must name its MinIO deployment (`minio = minio.prod`).
const kmsPrefix = "MINIO_KMS_"

// The KMSes MinIO can be configured with through its env.
type kmsKind int

const (
	kmsNone       kmsKind = iota
	kmsStatic             // MINIO_KMS_SECRET_KEY(_FILE): a key in the env
	kmsKES                // MINIO_KMS_KES_ENDPOINT
	kmsKeyManager         // MINIO_KMS_SERVER: AIStor Key Manager
)

// minioKMS is what a MinIO env file says about its KMS: which one, the
// default key (what SSE-S3 objects are sealed under), and how to reach it.
type minioKMS struct {
	kind kmsKind
	key  string
	// static is the key of kmsStatic.
	static providers.Key
	// endpoints and kes (MinIO's own credentials) describe kmsKES.
	endpoints []string
	kes       kes.Config
	// server and enclave describe kmsKeyManager.
	server, enclave string
}

// describe names the KMS for messages, without secrets.
func (m minioKMS) describe() string {
	switch m.kind {
	case kmsStatic:
		return "MinIO's static key (MINIO_KMS_SECRET_KEY)"
	case kmsKES:
		return "KES at " + strings.Join(m.endpoints, ",")
	case kmsKeyManager:
		return fmt.Sprintf("AIStor Key Manager at %s (enclave %q)", m.server, m.enclave)
	}
	return "no KMS"
}

// readKMS reads MinIO's KMS settings from an env file, as MinIO does at
// startup. More than one KMS configured is an error, as it is for MinIO.
func readKMS(f *envfile.File) (minioKMS, error) {
	get := func(k string) string { v, _ := f.Get(kmsPrefix + k); return strings.TrimSpace(v) }
	var found []minioKMS
	if server := get("SERVER"); server != "" {
		found = append(found, minioKMS{kind: kmsKeyManager, key: get("SSE_KEY"), server: server, enclave: get("ENCLAVE")})
	}
	if ep := get("KES_ENDPOINT"); ep != "" {
		m := minioKMS{kind: kmsKES, key: get("KES_KEY_NAME")}
		for _, e := range strings.Split(ep, ",") {
			m.endpoints = append(m.endpoints, strings.TrimSuffix(strings.TrimSpace(e), "/"))
		}
		m.kes = kes.Config{Name: "MinIO's MINIO_KMS_KES_* settings", Endpoint: m.endpoints[0], APIKey: get("KES_API_KEY"),
			CertFile: get("KES_CERT_FILE"), KeyFile: get("KES_KEY_FILE"), CAFile: get("KES_CAPATH"), Enclave: get("KES_ENCLAVE")}
		found = append(found, m)
	}
	if m, ok, err := readStatic(get("SECRET_KEY"), get("SECRET_KEY_FILE")); err != nil {
		return minioKMS{}, err
	} else if ok {
		found = append(found, m)
	}
	switch len(found) {
	case 0:
		return minioKMS{}, nil
	case 1:
		if found[0].key == "" {
			return minioKMS{}, fmt.Errorf("MinIO's env configures %s but names no default key (%s)", found[0].describe(), keyVar(found[0].kind))
		}
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, m := range found {
		names[i] = m.describe()
	}
	return minioKMS{}, fmt.Errorf("MinIO's env configures more than one KMS (%s); keep one, so that which KMS MinIO uses is not in doubt", strings.Join(names, "; "))
}

// keyVar is the variable that names the default key of a KMS kind.
func keyVar(k kmsKind) string {
	return map[kmsKind]string{kmsKES: "MINIO_KMS_KES_KEY_NAME", kmsKeyManager: "MINIO_KMS_SSE_KEY", kmsStatic: "MINIO_KMS_SECRET_KEY"}[k]
}

// readStatic reads the static key from the variable's value or the file it
// names. Errors never contain the key.
func readStatic(value, file string) (minioKMS, bool, error) {
	if value == "" && file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return minioKMS{}, false, fmt.Errorf("read MINIO_KMS_SECRET_KEY_FILE: %w", errors.Unwrap(err))
		}
		value = strings.TrimSpace(string(data))
	}
	if value == "" {
		return minioKMS{}, false, nil
	}
	name, key, err := miniostatic.ParseKey(value)
	if err != nil {
		return minioKMS{}, false, fmt.Errorf("MinIO's static key: %w", err)
	}
	return minioKMS{kind: kmsStatic, key: name, static: key}, true, nil
}

// sameKES reports whether two KES settings reach the same servers.
func sameKES(a, b minioKMS) bool {
	return a.kind == kmsKES && b.kind == kmsKES && slices.ContainsFunc(a.endpoints, func(e string) bool { return slices.Contains(b.endpoints, e) })
}

// touchesKMS reports whether any of names is one of MinIO's KMS variables.
func touchesKMS(names ...[]string) bool {
	for _, list := range names {
		for _, n := range list {
			if strings.HasPrefix(n, kmsPrefix) {
				return true
			}
		}
	}
	return false
}
