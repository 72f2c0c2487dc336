package envedit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"strings"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/steps"
)

// Restored counts what Restore did with the recorded files.
type Restored struct {
	Restored  int // put back to the original bytes, mode and owner
	Unchanged int // already the original: nothing to do
	Kept      int // changed since the step; kept as they are (--keep)
	// Nodes is each node's outcome ("a: restored"), in the order handled;
	// empty on the operator's machine.
	Nodes []string
}

func (r Restored) String() string {
	s := fmt.Sprintf("%d file(s) restored byte for byte", r.Restored)
	if r.Unchanged > 0 {
		s += fmt.Sprintf(", %d already as before", r.Unchanged)
	}
	if r.Kept > 0 {
		s += fmt.Sprintf(", %d kept as they were (operator's choice)", r.Kept)
	}
	if len(r.Nodes) > 0 {
		s += "; " + strings.Join(r.Nodes, ", ")
	}
	return s
}

// Restore puts back every file the undo record names, from the record alone
// (the absolute path, digests, mode and owner; the plan's paths are not
// used). A file is written only when the saved original hashes to
// before_sha256 and the file now holds what the step wrote (after_sha256);
// a file already holding the original is left alone. Any other file is not
// touched unless the operator chose (Runtime.FileDecision) to overwrite it
// or keep it: Restore then returns a *steps.ConflictError naming those
// files, with a masked diff of what changed since the step, after restoring
// the others.
//
// Files on nodes are handled newest first (the reverse of the plan's
// order); a file recorded as not written is not touched and its node not
// contacted; a node that cannot be reached does not stop the others: the
// error names it, and running the compensation again (cutover rollback)
// finishes it, skipping files already restored.
func (fs *Files) Restore(ctx context.Context, rt steps.Runtime) (Restored, error) {
	var res Restored
	var undo Undo
	if ok, err := rt.LoadUndo(&undo); err != nil || !ok {
		return res, err
	}
	conflict := &steps.ConflictError{Step: rt.StepID()}
	var errs []error
	order := make([]int, len(undo.Files))
	for i := range order {
		order[i] = i
		if undo.Files[0].Host != "" {
			order[i] = len(order) - 1 - i
		}
	}
	for _, i := range order {
		f := undo.Files[i]
		before := res
		c, err := fs.restore(ctx, rt, i, f, &res)
		if err != nil {
			errs = append(errs, err)
		} else if c != nil {
			conflict.Files = append(conflict.Files, *c)
		}
		if f.Host != "" {
			res.Nodes = append(res.Nodes, f.Host+": "+outcome(before, res, f, err, c))
		}
	}
	if len(conflict.Files) > 0 {
		errs = append(errs, conflict)
	}
	return res, errors.Join(errs...)
}

// outcome says what happened to one node's file.
func outcome(before, after Restored, f FileUndo, err error, c *steps.FileConflict) string {
	switch {
	case err != nil && errors.Is(err, transport.ErrUnreachable):
		return "unreachable, not restored yet"
	case err != nil:
		return "restore failed"
	case c != nil:
		return "changed since the step (conflict)"
	case f.NotWritten:
		return "never written (unchanged)"
	case after.Restored > before.Restored:
		return "restored"
	case after.Kept > before.Kept:
		return "kept (operator's choice)"
	}
	return "unchanged"
}

// node returns the transport of the node a record names.
func (fs *Files) node(f FileUndo) (transport.Transport, error) {
	if f.Host == "" {
		return transport.Local{}, nil
	}
	for _, n := range fs.Nodes {
		if n.Name() == f.Host {
			return n, nil
		}
	}
	if fs.Hosts != nil {
		if n, ok := fs.Hosts()[f.Host]; ok {
			return n, nil
		}
	}
	return nil, fmt.Errorf("%s:%s: host %s is not declared in the plan any more; declare it again to restore its file", f.Host, f.Path, f.Host)
}

func (fs *Files) restore(ctx context.Context, rt steps.Runtime, i int, f FileUndo, res *Restored) (*steps.FileConflict, error) {
	if f.NotWritten {
		res.Unchanged++
		return nil, nil
	}
	original, ok, err := rt.LoadBlob(blobName(i))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("undo data for %s is missing from the state directory", f.Path)
	}
	node, err := fs.node(f)
	if err != nil {
		return nil, err
	}
	intact := envfile.Digest(original) == f.Before
	current, _, err := node.ReadFile(ctx, f.Path)
	gone := errors.Is(err, iofs.ErrNotExist)
	if err != nil && !gone {
		if errors.Is(err, transport.ErrUnreachable) {
			return nil, fmt.Errorf("restore %s:%s: %w; once the host is back, run cutover rollback again (it restores what is left)", f.Host, f.Path, err)
		}
		return nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	now := ""
	if !gone {
		now = envfile.Digest(current)
	}
	switch {
	case now == f.Before:
		res.Unchanged++
		return nil, nil
	case intact && f.wrote(now):
		return nil, fs.put(ctx, node, f, original, res)
	}
	switch rt.FileDecision(f.Path) {
	case steps.ChoiceKeep:
		rt.Logf("%s changed since the step wrote it; kept as it is (the operator's choice)", f.Path)
		res.Kept++
		return nil, nil
	case steps.ChoiceOverwrite:
		if !intact {
			return nil, fmt.Errorf("cannot overwrite %s: the saved original does not hash to its recorded before_sha256 %.12s", f.Path, f.Before)
		}
		rt.Logf("%s changed since the step wrote it; overwritten with the original (the operator's choice)", f.Path)
		return nil, fs.put(ctx, node, f, original, res)
	}
	return &steps.FileConflict{Path: f.Path, Now: now, After: f.After, CanOverwrite: intact,
		Diff: fs.sinceStep(rt, i, f, current, gone)}, nil
}

// put writes the original back with its recorded mode and owner.
func (fs *Files) put(ctx context.Context, node transport.Transport, f FileUndo, original []byte, res *Restored) error {
	if err := node.Restore(ctx, f.Path, original, f.meta()); err != nil {
		return fmt.Errorf("restore %s: %w", f.Path, err)
	}
	res.Restored++
	return nil
}

// sinceStep renders what changed in the file since the step wrote it, with
// values masked by fs.Mask (nil: every value that looks secret).
func (fs *Files) sinceStep(rt steps.Runtime, i int, f FileUndo, current []byte, gone bool) []string {
	if gone {
		return []string{"(the file was removed)"}
	}
	is, err := envfile.Parse(current)
	if err != nil {
		var pe *envfile.ParseError
		if errors.As(err, &pe) {
			return []string{fmt.Sprintf("(the file no longer parses as an env file: line %d)", pe.Line)}
		}
		return []string{"(the file no longer parses as an env file)"}
	}
	data, ok, err := rt.LoadBlob(shapeBlobName(i, f.After))
	var sh shape
	if err != nil || !ok || json.Unmarshal(data, &sh) != nil {
		return []string{"(what the step wrote is not recorded: no diff)"}
	}
	was, wasMasked := sh.file(is)
	mask := func(k string) bool { return wasMasked[k] || masked(fs.Mask, k) }
	var out []string
	for _, c := range envfile.Diff(was, is) {
		out = append(out, c.Render(mask))
	}
	if len(out) == 0 {
		out = append(out, "(no variable changed: only comments, blank lines or layout)")
	}
	return out
}
