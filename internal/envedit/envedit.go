// Package envedit changes a set of env files — one per node — as one unit,
// for the steps that edit them (env, rotate_jwt). It checks the files are
// identical (SHA-256) before and after the change, saves each file's
// original bytes as undo data before writing anything (0600 in the state
// directory, never printed), computes the new content from those originals
// so a re-run after a crash writes the same files, writes each file
// atomically keeping its mode, and restores them byte for byte.
package envedit

import (
	"errors"
	"fmt"
	"os"
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

// Content is one file's bytes and mode.
type Content struct {
	Data []byte
	Mode os.FileMode
}

// Undo is the compensation record (no secrets: paths and digests).
type Undo struct {
	Files []FileUndo `json:"files"`
}

// FileUndo records one file.
type FileUndo struct {
	Path   string      `json:"path"`
	Mode   os.FileMode `json:"mode"`
	Before string      `json:"before_sha256"`
	After  string      `json:"after_sha256"`
}

// Read reads every file as it is now.
func (fs *Files) Read() ([]Content, error) {
	out := make([]Content, len(fs.Paths))
	for i, p := range fs.Paths {
		data, mode, err := envfile.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read env file: %w", err)
		}
		out[i] = Content{data, mode}
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
	out := make([]Content, len(fs.Paths))
	var fresh []Content
	for i, path := range fs.Paths {
		if data, ok, err := rt.LoadBlob(blobName(i)); err != nil {
			return nil, err
		} else if ok {
			out[i] = Content{Data: data, Mode: currentMode(path)}
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

func currentMode(path string) os.FileMode {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode()
	}
	return 0o600
}

func blobName(i int) string { return fmt.Sprintf("file-%d", i) }

// Write applies edit to each original, records the undo data, and writes
// the files atomically; then it checks what was written. It returns the
// digest all files share after the change.
func (fs *Files) Write(rt steps.Runtime, originals []Content, edit Edit) (string, error) {
	var undo Undo
	for i, path := range fs.Paths {
		_, next, err := apply(path, originals[i].Data, edit)
		if err != nil {
			return "", err
		}
		undo.Files = append(undo.Files, FileUndo{Path: path, Mode: originals[i].Mode,
			Before: envfile.Digest(originals[i].Data), After: envfile.Digest(next.Bytes())})
		if err := rt.SaveUndo(undo); err != nil {
			return "", err
		}
		if err := envfile.WriteAtomic(path, next.Bytes(), originals[i].Mode); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
	}
	return undo.Files[0].After, fs.verify(undo)
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

// Restore puts every recorded file back to its original bytes. A file
// already back is left alone; one changed since by someone else is restored
// all the same (the original is what the service ran on). It returns how
// many files the undo data names.
func Restore(rt steps.Runtime) (int, error) {
	var undo Undo
	if ok, err := rt.LoadUndo(&undo); err != nil || !ok {
		return 0, err
	}
	var errs []error
	for i, f := range undo.Files {
		if err := restore(rt, i, f); err != nil {
			errs = append(errs, err)
		}
	}
	return len(undo.Files), errors.Join(errs...)
}

func restore(rt steps.Runtime, i int, f FileUndo) error {
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
