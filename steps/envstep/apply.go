package envstep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
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

// undoData is the env step's compensation record (no secrets: paths and digests).
type undoData struct {
	Files []fileUndo `json:"files"`
}

type fileUndo struct {
	Path   string      `json:"path"`
	Mode   os.FileMode `json:"mode"`
	Before string      `json:"before_sha256"`
	After  string      `json:"after_sha256"`
}

// edit returns the new content of a file from its original bytes.
func (s *Step) edit(path string, original []byte) (*envfile.File, *envfile.File, error) {
	old, err := envfile.Parse(original)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	next := old.Clone()
	for _, k := range s.setKeys {
		next.Set(k, s.set[k])
	}
	for _, k := range s.unset {
		next.Unset(k)
	}
	for _, k := range s.comment {
		next.Comment(k)
	}
	return old, next, nil
}

// mask says which values a diff must not show.
func (s *Step) mask(key string) bool { return s.sensitive[key] || envfile.LooksSecret(key) }

// Plan reads every file, checks they are identical, and shows the diff.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	contents, err := readAll(s.files)
	if err != nil {
		return nil, err
	}
	if err := s.checkIdentical(contents, "before the change"); err != nil {
		return nil, err
	}
	var actions []steps.Action
	for i, path := range s.files {
		old, next, err := s.edit(path, contents[i].data)
		if err != nil {
			return nil, err
		}
		a := steps.Action{Summary: fmt.Sprintf("edit %s (sha256 %.12s -> %.12s)", path, envfile.Digest(old.Bytes()), envfile.Digest(next.Bytes()))}
		for _, c := range envfile.Diff(old, next) {
			a.Details = append(a.Details, c.Render(s.mask))
		}
		if len(a.Details) == 0 {
			a.Summary = fmt.Sprintf("%s already has these settings (no change)", path)
		}
		actions = append(actions, a)
	}
	return actions, nil
}

type content struct {
	data []byte
	mode os.FileMode
}

func readAll(paths []string) ([]content, error) {
	out := make([]content, len(paths))
	for i, p := range paths {
		data, mode, err := envfile.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read env file: %w", err)
		}
		out[i] = content{data, mode}
	}
	return out, nil
}

func (s *Step) checkIdentical(contents []content, when string) error {
	if !s.identical || len(contents) < 2 {
		return nil
	}
	first := envfile.Digest(contents[0].data)
	var differ []string
	for i, c := range contents[1:] {
		if d := envfile.Digest(c.data); d != first {
			differ = append(differ, fmt.Sprintf("%s (sha256 %.12s)", s.files[i+1], d))
		}
	}
	if len(differ) == 0 {
		return nil
	}
	return fmt.Errorf("env files differ %s: %s (sha256 %.12s) vs %s; make them identical first, or set require_identical = false",
		when, s.files[0], first, strings.Join(differ, ", "))
}

// Apply saves each file's original bytes, then writes the edited files
// atomically, then checks they are identical.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	originals, err := s.originals(rt)
	if err != nil {
		return err
	}
	var undo undoData
	for i, path := range s.files {
		_, next, err := s.edit(path, originals[i].data)
		if err != nil {
			return err
		}
		undo.Files = append(undo.Files, fileUndo{Path: path, Mode: originals[i].mode,
			Before: envfile.Digest(originals[i].data), After: envfile.Digest(next.Bytes())})
		if err := rt.SaveUndo(undo); err != nil {
			return err
		}
		if err := envfile.WriteAtomic(path, next.Bytes(), originals[i].mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return s.verifyWritten(rt, undo)
}

// originals returns each file's bytes from before the step first ran: from
// undo data on a re-run, from disk (and saved) on the first run.
func (s *Step) originals(rt steps.Runtime) ([]content, error) {
	out := make([]content, len(s.files))
	var fresh []content
	for i, path := range s.files {
		if data, ok, err := rt.LoadBlob(blobName(i)); err != nil {
			return nil, err
		} else if ok {
			out[i] = content{data: data, mode: currentMode(path)}
			continue
		}
		if fresh == nil {
			var err error
			if fresh, err = readAll(s.files); err != nil {
				return nil, err
			}
			if err := s.checkIdentical(fresh, "before the change"); err != nil {
				return nil, err
			}
		}
		if err := rt.SaveBlob(blobName(i), fresh[i].data); err != nil {
			return nil, err
		}
		out[i] = fresh[i]
	}
	return out, nil
}

func currentMode(path string) os.FileMode {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode()
	}
	return 0o600
}

func blobName(i int) string { return fmt.Sprintf("file-%d", i) }

func (s *Step) verifyWritten(rt steps.Runtime, undo undoData) error {
	contents, err := readAll(s.files)
	if err != nil {
		return err
	}
	for i, c := range contents {
		if got := envfile.Digest(c.data); got != undo.Files[i].After {
			return fmt.Errorf("%s changed under us: sha256 %.12s after writing, expected %.12s", s.files[i], got, undo.Files[i].After)
		}
	}
	if err := s.checkIdentical(contents, "after the change"); err != nil {
		return err
	}
	rt.SetSummary(fmt.Sprintf("%d file(s) changed, all sha256 %.12s", len(s.files), undo.Files[0].After))
	return nil
}

// Undo restores every file the step recorded to its original bytes. A file
// already back to its original is left alone; one changed since by someone
// else is restored all the same (the original is what the service ran on).
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error {
	var undo undoData
	if ok, err := rt.LoadUndo(&undo); err != nil || !ok {
		return err
	}
	var errs []error
	for i, f := range undo.Files {
		if err := restore(rt, i, f); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	rt.SetSummary(fmt.Sprintf("%d file(s) restored byte for byte", len(undo.Files)))
	return nil
}

func restore(rt steps.Runtime, i int, f fileUndo) error {
	original, ok, err := rt.LoadBlob(blobName(i))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("undo data for %s is missing from the state directory", f.Path)
	}
	if current, _, err := envfile.ReadFile(f.Path); err == nil && envfile.Digest(current) == f.Before {
		return nil
	}
	if err := envfile.WriteAtomic(f.Path, original, f.Mode); err != nil {
		return fmt.Errorf("restore %s: %w", f.Path, err)
	}
	return nil
}
