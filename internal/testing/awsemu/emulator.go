package awsemu

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"
)

// Config configures an Emulator.
type Config struct {
	// Region is the one region the emulator serves (e.g. "us-east-1"). It
	// appears in every ARN and must be the region of every request's
	// credential scope. Required.
	Region string
	// AccountID is the 12-digit account that owns every resource. Required.
	AccountID string
	// Credentials maps each accepted access key id to its secret access
	// key. At least one pair is required; requests signed with any other
	// key are refused with UnrecognizedClientException.
	Credentials map[string]string
	// StateFile, when set, is loaded at New (a missing file is an empty
	// state) and rewritten atomically, with mode 0600, after every call that
	// changes the state. It holds key material in the clear: it is the
	// emulator's disk.
	StateFile string
	// Now is the clock for resource lifecycles (creation dates, deletion
	// windows, import expiry). Nil means time.Now. Signature freshness is
	// always checked against the wall clock, the one the SDK signs with.
	Now func() time.Time
	// Logger, when set, receives one record per request.
	Logger *slog.Logger
}

// Emulator serves the KMS and Secrets Manager JSON 1.1 protocols; see the
// package documentation for the contract. Create it with New; it is safe
// for concurrent use.
type Emulator struct {
	cfg Config

	mu     sync.Mutex // guards st and dirty
	st     *state
	dirty  bool
	faults faultTable
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// New returns an Emulator for cfg, loading cfg.StateFile when it exists.
// It fails when the configuration is incomplete or the state file cannot
// be read or belongs to another region or account.
func New(cfg Config) (*Emulator, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	creds := make(map[string]string, len(cfg.Credentials))
	for k, v := range cfg.Credentials {
		creds[k] = v
	}
	cfg.Credentials = creds
	st, err := loadState(cfg.StateFile, cfg.Region, cfg.AccountID)
	if err != nil {
		return nil, err
	}
	return &Emulator{cfg: cfg, st: st, faults: newFaultTable()}, nil
}

func checkConfig(cfg Config) error {
	switch {
	case cfg.Region == "":
		return errors.New("awsemu: Config.Region is required")
	case !accountIDPattern.MatchString(cfg.AccountID):
		return fmt.Errorf("awsemu: Config.AccountID must be 12 digits, got %q", cfg.AccountID)
	case len(cfg.Credentials) == 0:
		return errors.New("awsemu: Config.Credentials needs at least one access key")
	}
	for k, v := range cfg.Credentials {
		if k == "" || v == "" {
			return errors.New("awsemu: Config.Credentials has an empty access key or secret key")
		}
	}
	return nil
}

// now is the lifecycle clock in UTC, to the millisecond AWS timestamps carry.
func (e *Emulator) now() time.Time { return e.cfg.Now().UTC().Truncate(time.Millisecond) }

// touch records that the current call changed the state, so that it is
// saved before the response is written. Callers hold e.mu.
func (e *Emulator) touch() { e.dirty = true }
