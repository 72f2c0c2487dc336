package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/minio/madmin-go/v3"
)

// Freeze stops S3 traffic on every node (madmin ServiceFreezeV2): new S3
// requests wait, without an error, until Unfreeze or until their client
// gives up; admin, health and KMS APIs keep working. MinIO applies the
// freeze just after it answers, so call Frozen to confirm it. Errors:
// ErrUnsupported (the server has no freeze), *PeerError (some nodes did not
// freeze), or the transport's error. Each Freeze needs its own Unfreeze.
func (c *Config) Freeze(ctx context.Context) error {
	return c.service(ctx, madmin.ServiceActionFreeze)
}

// Unfreeze lets S3 traffic back in (madmin ServiceUnfreezeV2). MinIO
// counts freezes: one Unfreeze undoes one Freeze, and on a server that is
// not frozen it does nothing. Errors are those of Freeze. See Thaw.
func (c *Config) Unfreeze(ctx context.Context) error {
	return c.service(ctx, madmin.ServiceActionUnfreeze)
}

// service runs a freeze or unfreeze and checks every node applied it.
func (c *Config) service(ctx context.Context, action madmin.ServiceAction) error {
	adm, err := c.Admin()
	if err != nil {
		return err
	}
	res, err := adm.ServiceAction(ctx, madmin.ServiceActionOpts{Action: action})
	if errors.Is(err, io.EOF) {
		// A server without the V2 handler answers through the V1 one,
		// with an empty body, and has acted all the same.
		return nil
	}
	if err != nil {
		return c.adminError(string(action), err)
	}
	failed := map[string]string{}
	for _, r := range res.Results {
		if r.Err != "" {
			failed[r.Host] = r.Err
		}
	}
	if len(failed) > 0 {
		return &PeerError{Action: string(action), Failed: failed}
	}
	return nil
}

// probeBucket is the bucket whose HEAD probes a freeze; it need not exist.
const probeBucket = "cutover-freeze-probe"

// FrozenWait bounds Frozen when MinIO answers neither of its probes (a
// server that does not honour FreezeBypassHeader holds both): after it,
// the server is called frozen. A server that honours the header is judged
// far sooner, by the control probe (see Frozen).
const FrozenWait = time.Second

// probeMargin is the least time Frozen gives the held probe after the
// control probe was answered; the margin is otherwise 4 control round trips.
const probeMargin = 50 * time.Millisecond

// probeAnswer is the outcome of one probe request.
type probeAnswer struct {
	control bool
	err     error
}

// Frozen reports whether S3 requests are held now. It sends two anonymous
// HEADs of a bucket that need not exist, at the same time: a probe, and a
// control probe carrying FreezeBypassHeader, which MinIO serves through a
// freeze. Both pass the same handlers but for the freeze check, so they
// are answered about together on a server that is not frozen, however
// loaded it is:
//
//   - the probe is answered, even with an error status: not frozen;
//   - the control is answered and the probe is not within max(4 times the
//     control's round trip, probeMargin) more: frozen;
//   - neither is answered within wait: frozen (a server without the bypass).
//
// The error is set when MinIO cannot be reached, or when ctx ends.
func (c *Config) Frozen(ctx context.Context, wait time.Duration) (bool, error) {
	cs, err := c.clients()
	if err != nil {
		return false, err
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	answers := make(chan probeAnswer, 2)
	start := time.Now()
	for _, control := range []bool{false, true} {
		go func() { answers <- probeAnswer{control: control, err: cs.probe(pctx, control)} }()
	}
	var margin <-chan time.Time
	for {
		select {
		case a := <-answers:
			switch {
			case ctx.Err() != nil:
				return false, ctx.Err()
			case a.err != nil && pctx.Err() == nil:
				return false, c.reachError(a.err)
			case a.err != nil: // wait is over: the other answer decides
			case !a.control:
				return false, nil
			default:
				margin = time.After(max(4*time.Since(start), probeMargin))
			}
		case <-margin:
			return true, nil
		case <-pctx.Done():
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return true, nil
		}
	}
}

// probe sends one anonymous HEAD of probeBucket, with FreezeBypassHeader
// when control, and returns once any answer arrives.
func (cs *conns) probe(ctx context.Context, control bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, cs.base.JoinPath(probeBucket).String(), nil)
	if err != nil {
		return err
	}
	if control {
		req.Header.Set(FreezeBypassHeader, "cutover-control")
	}
	resp, err := cs.http.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// confirmWithin bounds ConfirmFrozen; confirmInterval is its pause between
// probes (MinIO applies a freeze microseconds after it answers the call).
const (
	confirmWithin   = 5 * time.Second
	confirmInterval = 10 * time.Millisecond
)

// ConfirmFrozen probes (see Frozen) until the server holds S3 requests;
// ErrNotFrozen if a probe is still answered after confirmWithin.
func (c *Config) ConfirmFrozen(ctx context.Context) error {
	deadline := time.Now().Add(confirmWithin)
	for {
		frozen, err := c.Frozen(ctx, FrozenWait)
		if err != nil || frozen {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w: a probe request was still answered %s after the freeze", c.Describe(), ErrNotFrozen, confirmWithin)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(confirmInterval):
		}
	}
}

// maxUnfreezes bounds Thaw's unfreezes.
const maxUnfreezes = 16

// Thaw unfreezes until S3 requests are served again, and returns how many
// unfreezes that took: more than one when freezes were nested (a freeze
// re-sent by a retry or a re-run, or someone else's). It is idempotent: on
// a server that is not frozen it sends one unfreeze, which does nothing.
// ErrStillFrozen if requests still wait after maxUnfreezes.
func (c *Config) Thaw(ctx context.Context) (int, error) {
	for n := 1; n <= maxUnfreezes; n++ {
		if err := c.Unfreeze(ctx); err != nil {
			return n, err
		}
		frozen, err := c.Frozen(ctx, FrozenWait)
		if err != nil {
			return n, err
		}
		if !frozen {
			return n, nil
		}
	}
	return maxUnfreezes, fmt.Errorf("%s: %w after %d unfreezes", c.Describe(), ErrStillFrozen, maxUnfreezes)
}

// ServerInfo is what cutover reads of a deployment before it acts.
type ServerInfo struct {
	// Mode is the deployment's state ("online", "initializing").
	Mode string
	// Versions are the distinct MinIO versions the nodes run.
	Versions []string
	// Online and Total count the nodes.
	Online, Total int
}

// String is "1/1 node(s) online, version RELEASE...".
func (i ServerInfo) String() string {
	return fmt.Sprintf("%d/%d node(s) online, version %s", i.Online, i.Total, strings.Join(i.Versions, ", "))
}

// ServerInfo reads the deployment's nodes and versions (madmin
// ServerInfo); read-only. Errors: the transport's, or an *madmin
// ErrorResponse (bad credentials say so).
func (c *Config) ServerInfo(ctx context.Context) (ServerInfo, error) {
	adm, err := c.Admin()
	if err != nil {
		return ServerInfo{}, err
	}
	msg, err := adm.ServerInfo(ctx)
	if err != nil {
		return ServerInfo{}, c.adminError("server info", err)
	}
	info := ServerInfo{Mode: msg.Mode, Total: len(msg.Servers)}
	seen := map[string]bool{}
	for _, s := range msg.Servers {
		if s.State == string(madmin.ItemOnline) {
			info.Online++
		}
		if !seen[s.Version] {
			seen[s.Version] = true
			info.Versions = append(info.Versions, s.Version)
		}
	}
	sort.Strings(info.Versions)
	return info, nil
}

// KMSInfo is the KMS a deployment is connected to.
type KMSInfo struct {
	// Name is the KMS's name or kind as MinIO reports it.
	Name string
	// DefaultKey is the key MinIO encrypts with when a request names none.
	DefaultKey string
	// Endpoints maps each KMS endpoint to its state ("online", "offline").
	Endpoints map[string]string
}

// KMSStatus reads the KMS MinIO uses (madmin KMSStatus, the
// /minio/kms/v1/status API of current servers); read-only.
// ErrKMSNotConfigured when MinIO runs without one.
func (c *Config) KMSStatus(ctx context.Context) (KMSInfo, error) {
	adm, err := c.Admin()
	if err != nil {
		return KMSInfo{}, err
	}
	st, err := adm.KMSStatus(ctx)
	if err != nil {
		return KMSInfo{}, c.adminError("kms status", err)
	}
	info := KMSInfo{Name: st.Name, DefaultKey: st.DefaultKeyID, Endpoints: map[string]string{}}
	for ep, state := range st.Endpoints {
		info.Endpoints[ep] = string(state)
	}
	return info, nil
}

// KeyStatus asks MinIO to generate a fresh data key under the KMS key
// name (the default key when name is "") and to decrypt it again
// (madmin GetKeyStatus), and returns the key name MinIO checked.
//
// It proves only that the KMS can use a key of that name now. It is NOT
// proof that data written before decrypts: a KMS holding a different key
// under the same name passes. Errors: ErrKeyUnusable (with MinIO's
// reason), ErrKMSNotConfigured, or the transport's.
func (c *Config) KeyStatus(ctx context.Context, name string) (string, error) {
	adm, err := c.Admin()
	if err != nil {
		return name, err
	}
	st, err := adm.GetKeyStatus(ctx, name)
	if err != nil {
		return name, c.adminError("key status", err)
	}
	switch {
	case st.EncryptionErr != "":
		return st.KeyID, fmt.Errorf("%w: key %s: generate a data key: %s", ErrKeyUnusable, st.KeyID, st.EncryptionErr)
	case st.DecryptionErr != "":
		return st.KeyID, fmt.Errorf("%w: key %s: decrypt a data key: %s", ErrKeyUnusable, st.KeyID, st.DecryptionErr)
	}
	return st.KeyID, nil
}

// Ready probes GET /minio/health/ready once. MinIO answers 200 only when
// it can serve requests and its KMS generates a data key, which is why a
// cutover checks this endpoint rather than /minio/health/live. Errors:
// ErrNotReady (with the status and MinIO's message), or the transport's
// when MinIO cannot be reached.
func (c *Config) Ready(ctx context.Context) error {
	cs, err := c.clients()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cs.base.JoinPath("minio/health/ready").String(), nil)
	if err != nil {
		return err
	}
	resp, err := cs.http.Do(req)
	if err != nil {
		return c.reachError(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg := strings.Join(strings.Fields(string(body)), " ")
	return fmt.Errorf("%w: /minio/health/ready: status %d %s", ErrNotReady, resp.StatusCode, msg)
}
