// Package envedit changes a set of env files — one per node — as one unit,
// for the steps that edit them (env, rotate_jwt). It checks the files are
// identical (SHA-256) before and after the change, saves each file's
// original bytes as undo data before writing anything (0600 in the state
// directory, never printed), computes the new content from those originals
// so a re-run after a crash writes the same files, writes each file
// atomically keeping its mode, and restores them byte for byte.
package envedit

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/steps"
)

// Edit changes a parsed copy of a file's original content.
type Edit func(f *envfile.File)

// Files is a set of env files edited together.
type Files struct {
	Paths []string
	// Identical, when true, refuses files that differ before the change and
	// checks they are identical after it.
	Identical bool
	// Mask says which variables' values a diff must not show.
	Mask func(key string) bool
}

// Content is one file's bytes, mode and owner.
type Content struct {
	Data []byte
	Meta envfile.Meta
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
	Path         string      `json:"path"`
	Mode         os.FileMode `json:"mode"`
	UID          *int        `json:"uid,omitempty"`
	GID          *int        `json:"gid,omitempty"`
	Before       string      `json:"before_sha256"`
	After        string      `json:"after_sha256"`
	EarlierAfter []string    `json:"earlier_after_sha256,omitempty"`
}

// meta is the recorded mode and owner.
func (f FileUndo) meta() envfile.Meta {
	m := envfile.Meta{Mode: f.Mode}
	if f.UID != nil && f.GID != nil {
		m.UID, m.GID, m.HasOwner = *f.UID, *f.GID, true
	}
	return m
}

// wrote reports whether digest is content the step wrote.
func (f FileUndo) wrote(digest string) bool {
	return digest == f.After || slices.Contains(f.EarlierAfter, digest)
}

// Read reads every file as it is now.
func (fs *Files) Read() ([]Content, error) {
	out := make([]Content, len(fs.Paths))
	for i, p := range fs.Paths {
		data, meta, err := envfile.ReadFileMeta(p)
		if err != nil {
			return nil, fmt.Errorf("read env file: %w", err)
		}
		out[i] = Content{data, meta}
	}
	return out, nil
}

// CheckIdentical fails when Identical is set and the files differ.
func (fs *Files) CheckIdentical(contents []Content, when string) error {
	if !fs.Identical || len(contents) < 2 {
		return nil
	}
	first := envfile.Digest(contents[0].Data)
	var differ []string
	for i, c := range contents[1:] {
		if d := envfile.Digest(c.Data); d != first {
			differ = append(differ, fmt.Sprintf("%s (sha256 %.12s)", fs.Paths[i+1], d))
		}
	}
	if len(differ) == 0 {
		return nil
	}
	return fmt.Errorf("env files differ %s: %s (sha256 %.12s) vs %s; make them identical first, or set require_identical = false",
		when, fs.Paths[0], first, strings.Join(differ, ", "))
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
func (fs *Files) Plan(edit Edit) ([]steps.Action, error) {
	contents, err := fs.Read()
	if err != nil {
		return nil, err
	}
	if err := fs.CheckIdentical(contents, "before the change"); err != nil {
		return nil, err
	}
	var actions []steps.Action
	for i, path := range fs.Paths {
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

// Originals returns each file's bytes from before the step first ran: from
// undo data on a re-run, from disk (checked identical, then saved) on the
// first run.
func (fs *Files) Originals(rt steps.Runtime) ([]Content, error) {
	var prev Undo
	if _, err := rt.LoadUndo(&prev); err != nil {
		return nil, err
	}
	out := make([]Content, len(fs.Paths))
	var fresh []Content
	for i, path := range fs.Paths {
		if data, ok, err := rt.LoadBlob(blobName(i)); err != nil {
			return nil, err
		} else if ok {
			out[i] = Content{Data: data, Meta: prev.metaOf(i, path)}
			continue
		}
		if fresh == nil {
			var err error
			if fresh, err = fs.Read(); err != nil {
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
func (u Undo) metaOf(i int, path string) envfile.Meta {
	if i < len(u.Files) {
		return u.Files[i].meta()
	}
	if _, m, err := envfile.ReadFileMeta(path); err == nil {
		return m
	}
	return envfile.Meta{Mode: 0o600}
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
// path, mode, owner, sha256 before and after, the new bytes as a blob), and
// writes the files atomically; then it checks what was written. It returns
// the digest all files share after the change.
func (fs *Files) Write(rt steps.Runtime, originals []Content, edit Edit) (string, error) {
	var prev Undo
	if _, err := rt.LoadUndo(&prev); err != nil {
		return "", err
	}
	var undo Undo
	for i, path := range fs.Paths {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		_, next, err := apply(path, originals[i].Data, edit)
		if err != nil {
			return "", err
		}
		data := next.Bytes()
		f := fileUndo(abs, originals[i], envfile.Digest(data))
		f.EarlierAfter = prev.earlier(i, f.After)
		undo.Files = append(undo.Files, f)
		if err := rt.SaveBlob(shapeBlobName(i, f.After), shapeOf(next, fs.Mask, originals[i].Data).encode()); err != nil {
			return "", err
		}
		if err := rt.SaveUndo(undo); err != nil {
			return "", err
		}
		if err := envfile.WriteAtomic(abs, data, originals[i].Meta.Mode); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
	}
	return undo.Files[0].After, fs.verify(undo)
}

func fileUndo(abs string, original Content, after string) FileUndo {
	f := FileUndo{Path: abs, Mode: original.Meta.Mode, Before: envfile.Digest(original.Data), After: after}
	if original.Meta.HasOwner {
		uid, gid := original.Meta.UID, original.Meta.GID
		f.UID, f.GID = &uid, &gid
	}
	return f
}

func (fs *Files) verify(undo Undo) error {
	contents, err := fs.Read()
	if err != nil {
		return err
	}
	for i, c := range contents {
		if got := envfile.Digest(c.Data); got != undo.Files[i].After {
			return fmt.Errorf("%s changed under us: sha256 %.12s after writing, expected %.12s", fs.Paths[i], got, undo.Files[i].After)
		}
	}
	return fs.CheckIdentical(contents, "after the change")
}
