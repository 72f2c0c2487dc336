package envstep

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
	"github.com/cutover/cutover/steps/internal/envedit"
)

func stringValue(v cty.Value, dc *hcldecode.Context, expr hcl.Expression) (string, hcl.Diagnostics) {
	if v.ContainsMarked() {
		hcldecode.RecordStrings(v, dc.Secrets)
	}
	v, _ = v.UnmarkDeep()
	conv, err := convert.Convert(v, cty.String)
	if err != nil || conv.IsNull() {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
			Detail: "Every value in set must be a string, number or bool.", Subject: expr.Range().Ptr()}}
	}
	return conv.AsString(), nil
}

// edit applies the step's set, unset and comment to a file.
func (s *Step) edit(f *envfile.File) {
	for _, k := range s.setKeys {
		f.Set(k, s.set[k])
	}
	for _, k := range s.unset {
		f.Unset(k)
	}
	for _, k := range s.comment {
		f.Comment(k)
	}
}

// mask says which values a diff must not show.
func (s *Step) mask(key string) bool { return s.sensitive[key] || envfile.LooksSecret(key) }

func (s *Step) files() *envedit.Files {
	return &envedit.Files{Paths: s.paths, Nodes: s.nodes, NodePaths: s.nodePaths, Hosts: s.hosts, Identical: s.identical, Mask: s.mask}
}

// Plan reads every file, checks they are identical, and shows the diff;
// for a step that changes MinIO's KMS, it checks MinIO's default key.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	fs := s.files()
	actions, err := fs.Plan(ctx, s.edit)
	if err != nil || s.minio == nil {
		return actions, err
	}
	contents, err := fs.Read(ctx)
	if err != nil {
		return nil, err
	}
	more, err := s.checkDefaultKey(ctx, rt, contents[0].Data, false)
	return append(actions, more...), err
}

// Apply saves each file's original bytes, then (for a step that changes
// MinIO's KMS) checks MinIO's default key again, which must now exist, and
// notes the keys its new KMS holds, then writes the edited files
// atomically, then checks they are identical.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	fs := s.files()
	originals, err := fs.Originals(ctx, rt)
	if err != nil {
		return err
	}
	if s.minio != nil {
		if err := s.beforeSwitch(ctx, rt, originals[0].Data); err != nil {
			return err
		}
	}
	digest, err := fs.Write(ctx, rt, originals, s.edit)
	if err != nil {
		return err
	}
	n := len(s.paths)
	if len(s.nodes) > 0 {
		n *= len(s.nodes)
	}
	rt.SetSummary(fmt.Sprintf("%d file(s) changed, all sha256 %.12s", n, digest))
	return nil
}

// Undo restores every file the step recorded to its original bytes, mode
// and owner, unless it changed since the step (see envedit.Files.Restore).
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error {
	res, err := s.files().Restore(ctx, rt)
	rt.SetSummary(res.String())
	return err
}
