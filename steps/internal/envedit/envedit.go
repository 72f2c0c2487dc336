// Package envedit changes a set of env files — one per node — as one unit,
// for the steps that edit them (env, rotate_jwt). The files are on the
// operator's machine, or, with Nodes, each path on every node through its
// transport (read and written in parallel). It checks the files are
// identical (SHA-256) before and after the change, saves each file's
// original bytes as undo data before writing anything (0600 in the state
// directory, never printed), computes the new content from those originals
// so a re-run after a crash writes the same files, writes each file
// atomically keeping its mode, and restores them byte for byte.
package envedit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/faultpoint"
	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/steps"
)

// Edit changes a parsed copy of a file's original content.
type Edit func(f *envfile.File)

// Files is a set of env files edited together.
type Files struct {
	Paths []string
	// Nodes are the hosts each path is edited on, in order; empty: the
	// operator's machine. On nodes the paths are absolute paths there.
	Nodes []transport.Transport
	// Hosts finds a node by the name an undo record gives (a rollback of
	// a plan whose step no longer lists it); nil: Nodes only.
	Hosts func() map[string]transport.Transport
	// NodePaths, when set, are each node's own paths (a plan's files
	// naming node), in place of Paths; each node has as many as Paths.
	NodePaths [][]string
	// Identical, when true, refuses files that differ before the change and
	// checks they are identical after it.
	Identical bool
	// Mask says which variables' values a diff must not show.
	Mask func(key string) bool
}

// Content is one file's bytes, mode and owner.
type Content struct {
	Data []byte
	Meta fsutil.Meta
}

// Undo is the compensation record (no secrets: paths and digests).
type Undo struct {
	Files []FileUndo `json:"files"`
}

// FileUndo records one file: its absolute path, its mode and owner before
// the step, the sha256 of its bytes before (saved as the undo blob) and
// after the step. A step that computes new content on a re-run (rotate_jwt:
// a new key) may have written earlier versions too: EarlierAfter.
type FileUndo struct {
	// Host is the node's name; "" for the operator's machine.
	Host         string      `json:"host,omitempty"`
	Path         string      `json:"path"`
	Mode         os.FileMode `json:"mode"`
	UID          *int        `json:"uid,omitempty"`
	GID          *int        `json:"gid,omitempty"`
	Before       string      `json:"before_sha256"`
	After        string      `json:"after_sha256"`
	EarlierAfter []string    `json:"earlier_after_sha256,omitempty"`
	// NotWritten is set when the step's write failed before the new file
	// was in place (transport.ErrNotWritten) and no earlier attempt wrote
	// it: the file was never changed, and a rollback need not reach it.
	NotWritten bool `json:"not_written,omitempty"`
}

// meta is the recorded mode and owner.
func (f FileUndo) meta() fsutil.Meta {
	m := fsutil.Meta{Mode: f.Mode}
	if f.UID != nil && f.GID != nil {
		m.UID, m.GID, m.HasOwner = *f.UID, *f.GID, true
	}
	return m
}

// wrote reports whether digest is content the step wrote.
func (f FileUndo) wrote(digest string) bool {
	return digest == f.After || slices.Contains(f.EarlierAfter, digest)
}

// loc is one file: a path on a node.
type loc struct {
	node transport.Transport
	host string // "" for the operator's machine
	path string
}

func (l loc) String() string {
	if l.host == "" {
		return l.path
	}
	return l.host + ":" + l.path
}

// locs lists the files: each path on each node, node by node.
func (fs *Files) locs() []loc {
	if len(fs.Nodes) == 0 {
		out := make([]loc, len(fs.Paths))
		for i, p := range fs.Paths {
			out[i] = loc{node: transport.Local{}, path: p}
		}
		return out
	}
	var out []loc
	for i, n := range fs.Nodes {
		paths := fs.Paths
		if i < len(fs.NodePaths) && fs.NodePaths[i] != nil {
			paths = fs.NodePaths[i]
		}
		for _, p := range paths {
			out = append(out, loc{node: n, host: n.Name(), path: p})
		}
	}
	return out
}

// remote reports whether the files are on nodes.
func (fs *Files) remote() bool { return len(fs.Nodes) > 0 }

// each runs fn for every file: one after another on the operator's
// machine, all at once on nodes. It returns the errors, joined.
func (fs *Files) each(locs []loc, fn func(i int, l loc) error) error {
	errs := make([]error, len(locs))
	if !fs.remote() {
		for i, l := range locs {
			if errs[i] = fn(i, l); errs[i] != nil {
				return errs[i]
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for i, l := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, l)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Read reads every file as it is now.
func (fs *Files) Read(ctx context.Context) ([]Content, error) {
	locs := fs.locs()
	out := make([]Content, len(locs))
	err := fs.each(locs, func(i int, l loc) error {
		data, meta, err := l.node.ReadFile(ctx, l.path)
		if err != nil {
			return fmt.Errorf("read env file: %w", err)
		}
		out[i] = Content{data, meta}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CheckIdentical fails when Identical is set and the files differ.
func (fs *Files) CheckIdentical(contents []Content, when string) error {
	if !fs.Identical || len(contents) < 2 {
		return nil
	}
	locs := fs.locs()
	first := envfile.Digest(contents[0].Data)
	var differ []string
	for i, c := range contents[1:] {
		if d := envfile.Digest(c.Data); d != first {
			differ = append(differ, fmt.Sprintf("%s (sha256 %.12s)", locs[i+1], d))
		}
	}
	if len(differ) == 0 {
		return nil
	}
	return fmt.Errorf("env files differ %s: %s (sha256 %.12s) vs %s; make them identical first, or set require_identical = false",
		when, locs[0], first, strings.Join(differ, ", "))
}

// apply parses a file's original bytes and applies edit to a copy.
func apply(path string, original []byte, edit Edit) (*envfile.File, *envfile.File, error) {
	old, err := envfile.Parse(original)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	next := old.Clone()
	edit(next)
	return old, next, nil
}

// Plan reads the files, checks they are identical, and returns one action
// per file with its diff (masked values as (sensitive)).
func (fs *Files) Plan(ctx context.Context, edit Edit) ([]steps.Action, error) {
	checks, err := fs.checkNodes(ctx)
	if err != nil {
		return nil, err
	}
	contents, err := fs.Read(ctx)
	if err != nil {
		return nil, err
	}
	if err := fs.CheckIdentical(contents, "before the change"); err != nil {
		return nil, err
	}
	actions := checks
	for i, l := range fs.locs() {
		path := l.String()
		old, next, err := apply(path, contents[i].Data, edit)
		if err != nil {
			return nil, err
		}
		a := steps.Action{Summary: fmt.Sprintf("edit %s (sha256 %.12s -> %.12s)", path, envfile.Digest(old.Bytes()), envfile.Digest(next.Bytes()))}
		for _, c := range envfile.Diff(old, next) {
			a.Details = append(a.Details, c.Render(fs.Mask))
		}
		if len(a.Details) == 0 {
			a.Summary = fmt.Sprintf("%s already has these settings (no change)", path)
		}
		actions = append(actions, a)
	}
	return actions, nil
}

// checkNodes connects to every node (host key, clock skew) and checks each
// file can be replaced there; nothing to do on the operator's machine.
func (fs *Files) checkNodes(ctx context.Context) ([]steps.Action, error) {
	if !fs.remote() {
		return nil, nil
	}
	lines := make([]string, len(fs.Nodes))
	err := fs.each(fs.nodeLocs(), func(i int, l loc) error {
		line, err := l.node.Check(ctx)
		if err != nil {
			return err
		}
		lines[i] = line
		return nil
	})
	if err == nil {
		err = fs.each(fs.locs(), func(_ int, l loc) error { return l.node.Writable(ctx, l.path) })
	}
	var out []steps.Action
	for _, line := range lines {
		out = append(out, steps.Action{Summary: line})
	}
	return out, err
}

// nodeLocs is one loc per node (no path), for per-node work.
func (fs *Files) nodeLocs() []loc {
	out := make([]loc, len(fs.Nodes))
	for i, n := range fs.Nodes {
		out[i] = loc{node: n, host: n.Name()}
	}
	return out
}

// Originals returns each file's bytes from before the step first ran: from
// undo data on a re-run, from disk (checked identical, then saved) on the
// first run.
func (fs *Files) Originals(ctx context.Context, rt steps.Runtime) ([]Content, error) {
	var prev Undo
	if _, err := rt.LoadUndo(&prev); err != nil {
		return nil, err
	}
	locs := fs.locs()
	out := make([]Content, len(locs))
	var fresh []Content
	for i, l := range locs {
		if data, ok, err := rt.LoadBlob(blobName(i)); err != nil {
			return nil, err
		} else if ok {
			out[i] = Content{Data: data, Meta: prev.metaOf(ctx, i, l)}
			continue
		}
		if fresh == nil {
			var err error
			if fresh, err = fs.Read(ctx); err != nil {
				return nil, err
			}
			if err := fs.CheckIdentical(fresh, "before the change"); err != nil {
				return nil, err
			}
		}
		if err := rt.SaveBlob(blobName(i), fresh[i].Data); err != nil {
			return nil, err
		}
		out[i] = fresh[i]
	}
	return out, nil
}

// metaOf is the mode and owner recorded for file i before the step first
// wrote it, else the file's current ones.
func (u Undo) metaOf(ctx context.Context, i int, l loc) fsutil.Meta {
	if i < len(u.Files) {
		return u.Files[i].meta()
	}
	if _, m, err := l.node.ReadFile(ctx, l.path); err == nil {
		return m
	}
	return fsutil.Meta{Mode: 0o600}
}

// earlier lists what file i's step wrote in earlier attempts, besides after.
func (u Undo) earlier(i int, after string) []string {
	if i >= len(u.Files) {
		return nil
	}
	var out []string
	for _, d := range append([]string{u.Files[i].After}, u.Files[i].EarlierAfter...) {
		if d != after && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func blobName(i int) string { return fmt.Sprintf("file-%d", i) }

// shapeBlobName names the shape of what the step wrote to file i (for the
// diff a conflicting rollback shows); by digest, since a re-run may write
// other content.
func shapeBlobName(i int, digest string) string {
	return fmt.Sprintf("shape-%d-%.16s", i, digest)
}

// Write applies edit to each original, records the undo data (absolute
// path, node, mode, owner, sha256 before and after, the new bytes' shape as
// a blob), and writes the files atomically; then it checks what was
// written. It returns the digest all files share after the change. On the
// operator's machine each file's record is saved before it is written, one
// file after another; on nodes every record is saved first, then all
// files are written at once, and a node whose write failed before its
// file was replaced is recorded as not written.
func (fs *Files) Write(ctx context.Context, rt steps.Runtime, originals []Content, edit Edit) (string, error) {
	var prev Undo
	if _, err := rt.LoadUndo(&prev); err != nil {
		return "", err
	}
	var undo Undo
	locs := fs.locs()
	data := make([][]byte, len(locs))
	for i, l := range locs {
		abs := l.path
		if !fs.remote() {
			var err error
			if abs, err = filepath.Abs(l.path); err != nil {
				return "", err
			}
		}
		_, next, err := apply(l.String(), originals[i].Data, edit)
		if err != nil {
			return "", err
		}
		data[i] = next.Bytes()
		f := fileUndo(abs, originals[i], envfile.Digest(data[i]))
		f.Host = l.host
		f.EarlierAfter = prev.earlier(i, f.After)
		undo.Files = append(undo.Files, f)
		if err := rt.SaveBlob(shapeBlobName(i, f.After), shapeOf(next, fs.Mask, originals[i].Data).encode()); err != nil {
			return "", err
		}
		if fs.remote() {
			continue
		}
		if err := rt.SaveUndo(undo); err != nil {
			return "", err
		}
		if err := fsutil.ReplaceFile(abs, data[i], originals[i].Meta.Mode); err != nil {
			return "", fmt.Errorf("write %s: %w", l.path, err)
		}
	}
	if fs.remote() {
		if err := fs.writeNodes(ctx, rt, locs, data, originals, prev, &undo); err != nil {
			return "", err
		}
	}
	return undo.Files[0].After, fs.verify(ctx, undo)
}

// writeNodes saves the whole record, then writes every node's file at once.
func (fs *Files) writeNodes(ctx context.Context, rt steps.Runtime, locs []loc, data [][]byte, originals []Content, prev Undo, undo *Undo) error {
	if err := rt.SaveUndo(*undo); err != nil {
		return err
	}
	var mu sync.Mutex
	notWritten := false
	states := make([]string, len(locs))
	err := fs.each(locs, func(i int, l loc) error {
		faultpoint.Hit("before-replace:" + rt.StepID() + ":" + l.host)
		err := l.node.Replace(ctx, l.path, data[i], originals[i].Meta.Mode)
		switch {
		case err == nil:
			states[i] = l.host + ": written"
			return nil
		case errors.Is(err, transport.ErrNotWritten):
			states[i] = l.host + ": not written"
		default:
			states[i] = l.host + ": unknown (the write may have happened)"
		}
		if errors.Is(err, transport.ErrNotWritten) && (i >= len(prev.Files) || prev.Files[i].NotWritten) {
			mu.Lock()
			undo.Files[i].NotWritten, notWritten = true, true
			mu.Unlock()
		}
		return fmt.Errorf("write %s: %w", l, err)
	})
	if notWritten {
		if serr := rt.SaveUndo(*undo); serr != nil {
			return errors.Join(err, serr)
		}
	}
	if err != nil {
		return fmt.Errorf("%w; nodes: %s", err, strings.Join(states, ", "))
	}
	return nil
}

func fileUndo(abs string, original Content, after string) FileUndo {
	f := FileUndo{Path: abs, Mode: original.Meta.Mode, Before: envfile.Digest(original.Data), After: after}
	if original.Meta.HasOwner {
		uid, gid := original.Meta.UID, original.Meta.GID
		f.UID, f.GID = &uid, &gid
	}
	return f
}

func (fs *Files) verify(ctx context.Context, undo Undo) error {
	contents, err := fs.Read(ctx)
	if err != nil {
		return err
	}
	locs := fs.locs()
	for i, c := range contents {
		if got := envfile.Digest(c.Data); got != undo.Files[i].After {
			return fmt.Errorf("%s changed under us: sha256 %.12s after writing, expected %.12s", locs[i], got, undo.Files[i].After)
		}
	}
	return fs.CheckIdentical(contents, "after the change")
}
