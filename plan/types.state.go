package plan

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/checkpoint"
)

// StateConfig is the plan's `state "<type>"` block: where the checkpoint
// lives ("local", the default, or "s3", shared) and whom its secrets are
// encrypted to.
type StateConfig struct {
	Type string // "local" or "s3"
	S3   checkpoint.S3Config
	// Recipients are age recipients ("age1..."): undo data and the inputs
	// key are encrypted to them.
	Recipients []string
	// OnUnavailable is checkpoint.OnUnavailableRollback (default) or
	// checkpoint.OnUnavailableWait.
	OnUnavailable string
	WaitTimeout   time.Duration // under "wait"; 0: checkpoint.DefaultWaitTimeout
	Timeout       time.Duration // each call to the store; 0: checkpoint.DefaultCallTimeout
	Range         hcl.Range     // the block's header
}

// stateBlock is the body of the `state "<type>"` block; its tags are its
// entry in docs/reference.md.
type stateBlock struct {
	Bucket        string         `hcl:"bucket,optional" doc:"s3: the bucket holding the checkpoint (required for s3)."`
	Prefix        string         `hcl:"prefix,optional" default:"none" doc:"s3: objects go under PREFIX/<plan name>/."`
	Endpoint      string         `hcl:"endpoint,optional" default:"AWS S3" doc:"s3: the S3 API, such as \"https://minio.example:9000\" (a bare host:port is https)."`
	Region        string         `hcl:"region,optional" doc:"s3: the bucket's region."`
	CAFile        string         `hcl:"ca_file,optional" doc:"s3: PEM roots to trust for the endpoint (relative to the plan's directory). Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, MINIO_ROOT_USER/MINIO_ROOT_PASSWORD or ~/.aws/credentials, never the plan."`
	Recipients    []string       `hcl:"recipients,optional" type:"list of age recipients" doc:"age public keys (\"age1...\"): undo data and the inputs key are encrypted to them before they are written, locally and to the store; rollback and resume then need the identity of one (--identity FILE or CUTOVER_IDENTITY=FILE); status does not."`
	OnUnavailable string         `hcl:"on_unavailable,optional" default:"rollback" doc:"s3: what a run does when the store stops answering: \"rollback\" (take no further step and roll back from the local copy), \"stop\" (take no further step; resume or roll back once the store is back) or \"wait\" (each write waits up to wait_timeout, then as rollback). Either way the local copy keeps every write and the next run or rollback from that directory pushes it."`
	WaitTimeout   hcl.Expression `hcl:"wait_timeout,optional" type:"duration" default:"10m" doc:"s3: how long a write waits for the store under on_unavailable = \"wait\"."`
	Timeout       hcl.Expression `hcl:"timeout,optional" type:"duration" default:"10s" doc:"s3: the deadline of each call to the store."`
}

// decodeState reads the optional single state block.
func (l *loader) decodeState() hcl.Diagnostics {
	blocks := l.content.Blocks.OfType("state")
	if len(blocks) == 0 {
		return nil
	}
	var diags hcl.Diagnostics
	for _, b := range blocks[1:] {
		diags = append(diags, duplicateDiag("state block", b.Labels[0], blocks[0], b))
	}
	b := blocks[0]
	var sb stateBlock
	diags = append(diags, l.decodeContext().DecodeBody(b.Body, &sb)...)
	cfg := &StateConfig{Type: b.Labels[0], Recipients: sb.Recipients, OnUnavailable: sb.OnUnavailable, Range: b.DefRange,
		S3: checkpoint.S3Config{Bucket: sb.Bucket, Prefix: sb.Prefix, Endpoint: sb.Endpoint, Region: sb.Region, CAFile: sb.CAFile}}
	if cfg.S3.CAFile != "" && !filepath.IsAbs(cfg.S3.CAFile) {
		cfg.S3.CAFile = filepath.Join(l.plan.Dir, cfg.S3.CAFile)
	}
	var d hcl.Diagnostics
	cfg.WaitTimeout, d = l.limit(sb.WaitTimeout, "wait_timeout")
	diags = append(diags, d...)
	cfg.Timeout, d = l.limit(sb.Timeout, "timeout")
	diags = append(diags, d...)
	switch cfg.Type {
	case "s3":
		if cfg.S3.Bucket == "" {
			diags = append(diags, errorDiag("Missing bucket", `A state "s3" block needs bucket = "NAME" (and usually endpoint = "https://host:port" for MinIO).`, b.DefRange))
		}
	case "local":
		if cfg.S3 != (checkpoint.S3Config{}) || cfg.OnUnavailable != "" {
			diags = append(diags, errorDiag("Invalid state block", `A state "local" block takes recipients only; bucket, prefix, endpoint, region, ca_file and on_unavailable belong to state "s3".`, b.DefRange))
		}
	default:
		diags = append(diags, errorDiag("Unknown state type", fmt.Sprintf("%q is not a state type: use state \"local\" (the default) or state \"s3\".", cfg.Type), b.LabelRanges[0]))
	}
	switch cfg.OnUnavailable {
	case "", checkpoint.OnUnavailableRollback, checkpoint.OnUnavailableStop, checkpoint.OnUnavailableWait:
	default:
		diags = append(diags, errorDiag("Invalid on_unavailable", fmt.Sprintf("on_unavailable = %q: use \"rollback\" (take no further step and roll back), \"stop\" (take no further step; resume or roll back once the store is back) or \"wait\" (wait for the store up to wait_timeout, then roll back).", cfg.OnUnavailable), b.DefRange))
	}
	if _, err := checkpoint.ParseRecipients(cfg.Recipients); err != nil {
		diags = append(diags, errorDiag("Invalid recipient", err.Error()+`; a recipient is an age public key such as "age1..." (age-keygen -y KEYFILE prints it).`, b.DefRange))
	}
	l.plan.State = cfg
	return diags
}
