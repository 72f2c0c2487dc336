package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"migrate_keys", "verify_keys", "exec", "env"}
	for _, c := range []struct{ typed, want string }{
		{"migrate_key", "migrate_keys"}, // one edit
		{"exce", "exec"},                // two edits (a swap)
		{"evn", "env"},
		{"mirgate", ""}, // too far from anything
		{"", ""},        // nothing typed: every name is three or more edits away
	} {
		if got := Closest(c.typed, names); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.typed, got, c.want)
		}
	}
}
