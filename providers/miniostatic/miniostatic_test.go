package miniostatic_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/miniostatic"
)

// A key and its MinIO form; the material is 32 bytes "0123...".
var (
	material = []byte("0123456789abcdef0123456789abcdef")
	b64      = base64.StdEncoding.EncodeToString(material)
	keyText  = "my-minio-key:" + b64
)

func TestParseKey(t *testing.T) {
	for _, s := range []string{keyText, keyText + "\n", keyText + "\r\n", "k.1_x-y:" + b64} {
		name, key, err := miniostatic.ParseKey(s)
		if err != nil || !bytes.Equal(key.Material, material) || key.Algorithm != "AES256" || name == "" {
			t.Errorf("ParseKey(%q) = %q, %v", s, name, err)
		}
	}
}

func TestParseKeyErrorsNeverShowTheKey(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(material[:16])
	long := base64.StdEncoding.EncodeToString(append(material, 'x'))
	cases := map[string]string{
		"no colon":         b64,
		"empty name":       ":" + b64,
		"name with space":  "my key:" + b64,
		"reversed":         b64 + ":my-minio-key",
		"leading dash":     "-k:" + b64,
		"bad base64":       "k:" + b64[:10] + "!" + b64[11:],
		"16 bytes":         "k:" + short,
		"33 bytes":         "k:" + long,
		"url base64":       "k:" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)),
		"trailing garbage": keyText + " x",
	}
	for what, s := range cases {
		_, _, err := miniostatic.ParseKey(s)
		if !errors.Is(err, miniostatic.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", what, err)
			continue
		}
		for _, part := range []string{b64[:12], short[:12], long[:12], "my-minio-key", "my key"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("%s: error %q contains part of the value", what, err)
			}
		}
	}
}

func open(t *testing.T, c miniostatic.Config) *miniostatic.Store {
	t.Helper()
	s, err := miniostatic.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSources(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "kms.key", keyText+"\n")
	envKey := writeFile(t, dir, "minio.env", "MINIO_ROOT_USER=admin\nMINIO_KMS_SECRET_KEY="+keyText+"\n")
	envFile := writeFile(t, dir, "minio-file.env", "MINIO_KMS_SECRET_KEY_FILE="+keyFile+"\nMINIO_KMS_SECRET_KEY=\n")
	envQuoted := writeFile(t, dir, "quoted.env", "# static key\nMINIO_KMS_SECRET_KEY=\""+keyText+"\"\n")
	for _, c := range []miniostatic.Config{{SecretKey: keyText}, {SecretKeyFile: keyFile}, {EnvFile: envKey},
		{EnvFile: envFile}, {EnvFile: envQuoted}} {
		s := open(t, c)
		k, err := s.Get(context.Background(), "my-minio-key")
		if err != nil || !bytes.Equal(k.Material, material) || s.KeyName() != "my-minio-key" {
			t.Errorf("%s: Get = %v", c.Describe(), err)
		}
	}
}

func TestSourceErrors(t *testing.T) {
	dir := t.TempDir()
	both := writeFile(t, dir, "both.env", "MINIO_KMS_SECRET_KEY="+keyText+"\nMINIO_KMS_SECRET_KEY_FILE=/etc/minio/kms.key\n")
	kes := writeFile(t, dir, "kes.env", "MINIO_KMS_KES_ENDPOINT=https://127.0.0.1:7373\n# MINIO_KMS_SECRET_KEY="+keyText+"\n")
	relative := writeFile(t, dir, "rel.env", "MINIO_KMS_SECRET_KEY_FILE=minio_master_key\n")
	bad := writeFile(t, dir, "bad.env", "MINIO_KMS_SECRET_KEY=my-minio-key:"+b64[:20]+"\n")
	broken := writeFile(t, dir, "broken.env", "MINIO_KMS_SECRET_KEY='"+keyText+"\n")
	cases := []struct {
		c    miniostatic.Config
		want error
		says string
	}{
		{miniostatic.Config{EnvFile: both}, nil, "both"},
		{miniostatic.Config{EnvFile: kes}, miniostatic.ErrNoKey, "neither"},
		{miniostatic.Config{EnvFile: relative}, nil, "relative path"},
		{miniostatic.Config{EnvFile: bad}, miniostatic.ErrInvalid, "bytes"},
		{miniostatic.Config{EnvFile: broken}, nil, "line 1"},
		{miniostatic.Config{EnvFile: filepath.Join(dir, "absent.env")}, os.ErrNotExist, "absent.env"},
		{miniostatic.Config{SecretKeyFile: filepath.Join(dir, "absent.key")}, os.ErrNotExist, "absent.key"},
		{miniostatic.Config{}, nil, "exactly one"},
		{miniostatic.Config{SecretKey: keyText, EnvFile: kes}, nil, "exactly one"},
	}
	for _, c := range cases {
		_, err := miniostatic.New(c.c)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: err = %v, want %v saying %q", c.c.Describe(), err, c.want, c.says)
			continue
		}
		if strings.Contains(err.Error(), b64[:12]) {
			t.Errorf("%s: error %q contains the key", c.c.Describe(), err)
		}
	}
}

// TestOpenReadsTheEnvFileOnce checks the store keeps the key it read even
// when a step rewrites the env file afterwards.
func TestOpenReadsTheEnvFileOnce(t *testing.T) {
	dir := t.TempDir()
	env := writeFile(t, dir, "minio.env", "MINIO_KMS_SECRET_KEY="+keyText+"\n")
	s := open(t, miniostatic.Config{Name: "kms.local", EnvFile: env})
	writeFile(t, dir, "minio.env", "MINIO_KMS_KES_ENDPOINT=https://127.0.0.1:7373\n")
	if k, err := s.Get(context.Background(), "my-minio-key"); err != nil || !bytes.Equal(k.Material, material) {
		t.Fatalf("after the env file changed: %v", err)
	}
	if _, err := miniostatic.New(miniostatic.Config{EnvFile: env}); !errors.Is(err, miniostatic.ErrNoKey) {
		t.Fatalf("a new Open after the switch: %v, want ErrNoKey", err)
	}
}

func TestStore(t *testing.T) {
	s := open(t, miniostatic.Config{Name: "kms.local", SecretKey: keyText})
	ctx := context.Background()
	if s.Name() != "kms.local" || s.Status(ctx) != nil {
		t.Errorf("Name %q, Status %v", s.Name(), s.Status(ctx))
	}
	for pattern, want := range map[string]string{"": "my-minio-key", "*": "my-minio-key", "my-*": "my-minio-key",
		"my-minio-key": "my-minio-key", "other*": "", "my-?inio-key": "my-minio-key"} {
		var got []string
		for name, err := range s.List(ctx, pattern) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, name)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("List(%q) = %v, want %q", pattern, got, want)
		}
	}
	for _, err := range s.List(ctx, "[") {
		if !errors.Is(err, path.ErrBadPattern) {
			t.Errorf("List([): %v", err)
		}
	}
	if _, err := s.Get(ctx, "other"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("Get(other): %v", err)
	}
	k, _ := s.Get(ctx, "my-minio-key")
	k.Material[0] ^= 0xff
	if k2, _ := s.Get(ctx, "my-minio-key"); !bytes.Equal(k2.Material, material) {
		t.Error("Get returned the store's own slice")
	}
	if err := s.Create(ctx, "x", k); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("Create: %v", err)
	}
	if err := s.Delete(ctx, "my-minio-key"); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("Delete: %v", err)
	}
}

// decode decodes the first kms block of src as a plan load does.
func decode(t *testing.T, src string, validating bool) (any, hcl.Diagnostics, *secret.Set) {
	t.Helper()
	vars := map[string]cty.Value{"key": cty.StringVal(keyText), "unknown": cty.UnknownVal(cty.String)}
	return hcltest.Decode(t, providers.KindKMS, src, vars, validating)
}

func TestDecode(t *testing.T) {
	obj, diags, set := decode(t, "kms \"local\" {\n  type = \"minio_static\"\n  secret_key = var.key\n}", false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := obj.(*miniostatic.Config)
	if c.Name != "kms.local" || c.SecretKey != keyText || strings.Contains(c.Describe(), b64) {
		t.Errorf("config %+v, Describe %q", c, c.Describe())
	}
	if set.Redact("MINIO_KMS_SECRET_KEY="+keyText) != "MINIO_KMS_SECRET_KEY="+secret.Mask || set.Redact(b64) != secret.Mask {
		t.Error("the key (and its base64 alone) must be masked even when not marked sensitive")
	}
	obj, diags, _ = decode(t, "kms \"local\" {\n  type = \"minio_static\"\n  env_file = \"etc/minio.env\"\n}", false)
	if diags.HasErrors() || obj.(*miniostatic.Config).EnvFile != "/plans/etc/minio.env" {
		t.Errorf("env_file: %v %+v", diags, obj)
	}
	if _, diags, _ = decode(t, "kms \"local\" {\n  type = \"minio_static\"\n  secret_key = var.unknown\n}", true); diags.HasErrors() {
		t.Errorf("unknown under validate: %v", diags)
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	cases := []struct {
		name, body, summary string
		line                int
	}{
		{"none", ``, "Missing MinIO static key", 1},
		{"two", "secret_key = var.key\n  env_file = \"/etc/default/minio\"", "Conflicting MinIO static key sources", 4},
		{"malformed", `secret_key = "` + b64 + `"`, "Invalid MinIO static key", 3},
		{"short", `secret_key = "k:` + b64[:20] + `"`, "Invalid MinIO static key", 3},
		{"unknown attribute", `secret = "x"`, "Unsupported argument", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags, _ := decode(t, "kms \"local\" {\n  type = \"minio_static\"\n  "+c.body+"\n}", false)
			hcltest.WantDiag(t, diags, c.summary, c.line)
			if strings.Contains(diags.Error(), b64[:12]) {
				t.Errorf("diagnostic leaks the key: %s", diags.Error())
			}
		})
	}
}
