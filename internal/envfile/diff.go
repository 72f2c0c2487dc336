package envfile

import "strconv"

// ChangeOp is the kind of a Change.
type ChangeOp int

// The kinds of change Diff reports.
const (
	Added     ChangeOp = iota + 1 // key has a value only in the new file
	Changed                       // key has a different value in the new file
	Removed                       // key has a value only in the old file
	Commented                     // like Removed, and the new file has one more commented-out assignment of key than the old
)

// String returns "added", "changed", "removed" or "commented".
func (op ChangeOp) String() string {
	switch op {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	case Commented:
		return "commented"
	}
	return "ChangeOp(" + strconv.Itoa(int(op)) + ")"
}

// Change is the difference for one key between two files, comparing what
// Get returns in each.
type Change struct {
	Key    string   // variable name
	Op     ChangeOp // kind of change
	Old    string   // value in the old file, if HadOld
	New    string   // value in the new file, if HasNew
	HadOld bool     // the old file has an active assignment of Key
	HasNew bool     // the new file has an active assignment of Key
}

// Diff returns the changes from old to new: keys of old in order of first
// appearance, then keys only in new in the same order. Keys whose value is
// the same are omitted. A nil *File counts as empty.
func Diff(old, new *File) []Change {
	if old == nil {
		old = &File{}
	}
	if new == nil {
		new = &File{}
	}
	var changes []Change
	for _, key := range unionKeys(old, new) {
		if c, ok := diffKey(old, new, key); ok {
			changes = append(changes, c)
		}
	}
	return changes
}

// unionKeys returns the keys of a, then those of b not in a.
func unionKeys(a, b *File) []string {
	keys := a.Keys()
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	for _, k := range b.Keys() {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	return keys
}

// diffKey compares key in old and new; ok is false if it did not change.
func diffKey(old, new *File, key string) (c Change, ok bool) {
	c.Key = key
	c.Old, c.HadOld = old.Get(key)
	c.New, c.HasNew = new.Get(key)
	switch {
	case c.HadOld && c.HasNew:
		c.Op = Changed
		return c, c.Old != c.New
	case c.HadOld:
		c.Op = Removed
		if new.commented(key) > old.commented(key) {
			c.Op = Commented
		}
		return c, true
	}
	c.Op = Added
	return c, c.HasNew
}

// Render formats c as one line, like a Terraform plan:
//
//	Added:     + KEY = "new"
//	Changed:   ~ KEY = "old" -> "new"
//	Removed:   - KEY
//	Commented: # KEY (commented out)
//
// Values are Go-quoted, so control characters cannot reach a terminal. If
// mask(c.Key) is true every value is shown as (sensitive). A nil mask means
// LooksSecret, so forgetting it errs on the side of hiding values.
func (c Change) Render(mask func(key string) bool) string {
	if mask == nil {
		mask = LooksSecret
	}
	show := strconv.Quote
	if mask(c.Key) {
		show = func(string) string { return "(sensitive)" }
	}
	switch c.Op {
	case Added:
		return "+ " + c.Key + " = " + show(c.New)
	case Changed:
		return "~ " + c.Key + " = " + show(c.Old) + " -> " + show(c.New)
	case Removed:
		return "- " + c.Key
	case Commented:
		return "# " + c.Key + " (commented out)"
	}
	return "? " + c.Key
}
