// Package app is demoapp's service: a small HTTP API that behaves like
// Sombra for the purposes of a KMS cutover. It stores work items under
// envelope encryption with one KMS provider at a time (a local AES key or
// AWS KMS, never both), can be paused and drained, and signs and verifies
// ES256 tokens with a rotating list of JWT keys.
//
// Its whole configuration comes from the process environment at start (see
// LoadConfig), the way a systemd unit with an EnvironmentFile gets it: to
// change provider, edit the env file and restart the process.
package app

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Provider names, as KMS_PROVIDER spells them and item files record them.
const (
	ProviderLocal = "local"
	ProviderAWS   = "AWS"
)

// DefaultJobDuration is how long a work item is in flight when
// JOB_DURATION is not set.
const DefaultJobDuration = time.Second

// Config is demoapp's configuration, read from the environment.
type Config struct {
	ListenAddr   string              // LISTEN_ADDR, default 127.0.0.1:8080
	DataDir      string              // DATA_DIR (required): item files and the pause flag
	Provider     string              // KMS_PROVIDER: ProviderLocal or ProviderAWS
	LocalKeyFile string              // LOCAL_KMS_KEY_FILE (provider local)
	AWS          AWSConfig           // AWS_* (provider AWS)
	JWTKeys      []*ecdsa.PrivateKey // JWT_ECDSA_KEY, new first
	JobDuration  time.Duration       // JOB_DURATION
}

// AWSConfig is the AWS KMS part of the configuration.
type AWSConfig struct {
	KeyARN          string // AWS_KMS_KEY_ARN (required)
	Region          string // AWS_REGION (required)
	Endpoint        string // AWS_ENDPOINT_URL (optional: an emulator)
	AccessKeyID     string // AWS_ACCESS_KEY_ID (required)
	SecretAccessKey string // AWS_SECRET_ACCESS_KEY (required)
	SessionToken    string // AWS_SESSION_TOKEN (optional)
}

// ErrConfig marks configuration errors; their messages never contain key
// material, so they can be printed as they are.
var ErrConfig = errors.New("invalid configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// LoadConfig reads the configuration through getenv (os.Getenv in the
// binary). It checks everything that can be checked without contacting a
// KMS: the provider name, the variables the provider needs, the JWT keys
// and durations. The local key file is read later, by NewKMS.
func LoadConfig(getenv func(string) string) (*Config, error) {
	c := &Config{
		ListenAddr:   strings.TrimSpace(getenv("LISTEN_ADDR")),
		DataDir:      strings.TrimSpace(getenv("DATA_DIR")),
		LocalKeyFile: strings.TrimSpace(getenv("LOCAL_KMS_KEY_FILE")),
		JobDuration:  DefaultJobDuration,
		AWS: AWSConfig{
			KeyARN:          strings.TrimSpace(getenv("AWS_KMS_KEY_ARN")),
			Region:          strings.TrimSpace(getenv("AWS_REGION")),
			Endpoint:        strings.TrimSpace(getenv("AWS_ENDPOINT_URL")),
			AccessKeyID:     strings.TrimSpace(getenv("AWS_ACCESS_KEY_ID")),
			SecretAccessKey: strings.TrimSpace(getenv("AWS_SECRET_ACCESS_KEY")),
			SessionToken:    strings.TrimSpace(getenv("AWS_SESSION_TOKEN")),
		},
	}
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		return nil, configErr("DATA_DIR is not set: it names the directory work items are stored in")
	}
	if err := c.setProvider(getenv("KMS_PROVIDER")); err != nil {
		return nil, err
	}
	if v := strings.TrimSpace(getenv("JOB_DURATION")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, configErr("JOB_DURATION %q is not a duration such as \"300ms\"", v)
		}
		c.JobDuration = d
	}
	keys, err := ParseJWTKeys(getenv("JWT_ECDSA_KEY"))
	if err != nil {
		return nil, err
	}
	c.JWTKeys = keys
	return c, nil
}

// setProvider checks KMS_PROVIDER and the variables its provider needs.
func (c *Config) setProvider(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return configErr("KMS_PROVIDER is not set: use %q or %q", ProviderLocal, ProviderAWS)
	case "local":
		c.Provider = ProviderLocal
		if c.LocalKeyFile == "" {
			return configErr("KMS_PROVIDER=local needs LOCAL_KMS_KEY_FILE (a file holding a base64 32-byte key)")
		}
	case "aws":
		c.Provider = ProviderAWS
		var missing []string
		for _, kv := range [][2]string{{"AWS_KMS_KEY_ARN", c.AWS.KeyARN}, {"AWS_REGION", c.AWS.Region},
			{"AWS_ACCESS_KEY_ID", c.AWS.AccessKeyID}, {"AWS_SECRET_ACCESS_KEY", c.AWS.SecretAccessKey}} {
			if kv[1] == "" {
				missing = append(missing, kv[0])
			}
		}
		if len(missing) > 0 {
			return configErr("KMS_PROVIDER=AWS needs %s", strings.Join(missing, ", "))
		}
		if c.AWS.Endpoint != "" && !strings.HasPrefix(c.AWS.Endpoint, "http://") && !strings.HasPrefix(c.AWS.Endpoint, "https://") {
			return configErr("AWS_ENDPOINT_URL %q must start with http:// or https://", c.AWS.Endpoint)
		}
	default:
		return configErr("KMS_PROVIDER %q is not supported: use %q or %q", strings.TrimSpace(v), ProviderLocal, ProviderAWS)
	}
	return nil
}
