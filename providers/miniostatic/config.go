package miniostatic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/providers"
)

// Config is what a `kms "<name>" { type = "minio_static" ... }` block
// decodes to; it is a providers.KeyStoreConfig. Exactly one source is set.
type Config struct {
	// Name is the plan's name for the store ("kms.local").
	Name string
	// SecretKey is the value itself, "<name>:<base64>"; secret.
	SecretKey string
	// SecretKeyFile is a file holding "<name>:<base64>"
	// (MINIO_KMS_SECRET_KEY_FILE).
	SecretKeyFile string
	// EnvFile is MinIO's environment file (/etc/default/minio), from which
	// MINIO_KMS_SECRET_KEY or MINIO_KMS_SECRET_KEY_FILE is read.
	EnvFile string
}

// Describe is a one-line, secret-free description of the store.
func (c *Config) Describe() string {
	switch {
	case c.SecretKeyFile != "":
		return "minio static key in " + c.SecretKeyFile
	case c.EnvFile != "":
		return "minio static key from env file " + c.EnvFile
	}
	return "minio static key (secret_key)"
}

// Open reads and validates the key from its source now; the store keeps
// it. Errors: ErrInvalid for a malformed key, ErrNoKey when the env file
// holds no static key, and file errors (never with the file's content).
func (c *Config) Open(ctx context.Context) (providers.KeyStore, error) {
	return New(*c)
}

// New is Open with the concrete type.
func New(c Config) (*Store, error) {
	text, where, err := c.read()
	if err != nil {
		return nil, err
	}
	name, key, err := ParseKey(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &Store{name: c.Name, keyName: name, key: key}, nil
}

// ErrNoKey means the env file sets neither MINIO_KMS_SECRET_KEY nor
// MINIO_KMS_SECRET_KEY_FILE (to a non-empty value): MinIO is not using a
// static key (any more).
var ErrNoKey = errors.New("no MinIO static key")

// read returns the "<name>:<base64>" text and where it came from.
func (c *Config) read() (text, where string, err error) {
	switch n := countSet(c.SecretKey, c.SecretKeyFile, c.EnvFile); {
	case n != 1:
		return "", "", errors.New("minio static key: set exactly one of secret_key, secret_key_file and env_file")
	case c.SecretKeyFile != "":
		text, err := readKeyFile(c.SecretKeyFile)
		return text, c.SecretKeyFile, err
	case c.EnvFile != "":
		return readEnvFile(c.EnvFile)
	}
	return c.SecretKey, "secret_key", nil
}

// countSet counts the non-empty strings.
func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// readKeyFile reads a key file, as MinIO does (the content as is).
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("minio static key file: %w", err)
	}
	return string(b), nil
}

// readEnvFile finds the static key in an env file, following
// MINIO_KMS_SECRET_KEY_FILE to its file. Like MinIO, it treats an empty
// value as unset, and refuses both variables at once. A relative
// MINIO_KMS_SECRET_KEY_FILE is refused: MinIO resolves it against its
// working directory, which cutover cannot know.
func readEnvFile(path string) (text, where string, err error) {
	data, _, err := fsutil.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("minio env file: %w", err)
	}
	f, err := envfile.Parse(data)
	if err != nil {
		return "", "", fmt.Errorf("minio env file %s: %w", path, err)
	}
	key, _ := f.Get(EnvSecretKey)
	file, _ := f.Get(EnvSecretKeyFile)
	switch {
	case key != "" && file != "":
		return "", "", fmt.Errorf("minio env file %s sets both %s and %s (MinIO refuses to start so)", path, EnvSecretKey, EnvSecretKeyFile)
	case key != "":
		return key, path + ": " + EnvSecretKey, nil
	case file == "":
		return "", "", fmt.Errorf("%w: minio env file %s sets neither %s nor %s", ErrNoKey, path, EnvSecretKey, EnvSecretKeyFile)
	case !filepath.IsAbs(file):
		return "", "", fmt.Errorf("minio env file %s: %s is the relative path %q, which MinIO resolves against its working directory; use an absolute path, or secret_key_file",
			path, EnvSecretKeyFile, file)
	}
	text, err = readKeyFile(file)
	return text, file, err
}
