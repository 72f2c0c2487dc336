package envfile

import "testing"

func TestSet(t *testing.T) {
	tests := []struct {
		name, in, key, value, want string
		changed                    bool
	}{
		{"replace unquoted", "A=1\nB=2\n", "A", "3", "A=3\nB=2\n", true},
		{"same value", "A=1\n", "A", "1", "A=1\n", false},
		{"hash is part of the value", "A=1 # c\n", "A", "1", "A=1\n", true},
		{"same value other quoting", "A='1'\n", "A", "1", "A='1'\n", false},
		{"keep indent and spaces", "  A = 1  \n", "A", "2", "  A = 2  \n", true},
		{"hash value replaced", "A=1 # old\n", "A", "x y", "A=\"x y\"\n", true},
		{"to empty", "A=1  \n", "A", "", "A=  \n", true},
		{"from a value that looks like a comment", "A= # c\n", "A", "v", "A= v\n", true},
		{"unquoted safe", "A=1\n", "A", "https://kms.example.com:7373/v1,x@y%z+=^", "A=https://kms.example.com:7373/v1,x@y%z+=^\n", true},
		{"unquoted needs space quoting", "A=1\n", "A", "a b", "A=\"a b\"\n", true},
		{"unquoted needs hash quoting", "A=1\n", "A", "a#b", "A=\"a#b\"\n", true},
		{"unquoted needs dollar escape", "A=1\n", "A", "$X", "A=\"\\$X\"\n", true},
		{"unquoted needs tilde quoting", "A=1\n", "A", "~/x", "A=\"~/x\"\n", true},
		{"unquoted needs non-ascii quoting", "A=1\n", "A", "é", "A=\"é\"\n", true},
		{"double escapes", "A=1\n", "A", "q\"b\\nd$t`", "A=\"q\\\"b\\nd\\$t\\`\"\n", true},
		{"backslash escaped only where needed", "A=1\n", "A", `\a\$\`, `A="\a\\\$\\"` + "\n", true},
		{"keep single", "A='1'\n", "A", "a b $c \\ \"d\"", "A='a b $c \\ \"d\"'\n", true},
		{"single to double for quote", "A='1'\n", "A", "it's", "A=\"it's\"\n", true},
		{"keep double when safe", "A=\"1\"\n", "A", "2", "A=\"2\"\n", true},
		{"last assignment only", "A=1\nA=2\nB=3\n", "A", "9", "A=1\nA=9\nB=3\n", true},
		{"not a commented one", "A=1\n# A=0\n", "A", "2", "A=2\n# A=0\n", true},
		{"crlf in place", "A=1\r\nB=2\r\n", "B", "3", "A=1\r\nB=3\r\n", true},
		{"no newline in place", "A=1\nB=2", "B", "3", "A=1\nB=3", true},
		{"append", "A=1\n", "B", "2", "A=1\nB=2\n", true},
		{"append quoted", "A=1\n", "B", "x y", "A=1\nB=\"x y\"\n", true},
		{"append empty value", "A=1\n", "B", "", "A=1\nB=\n", true},
		{"append to empty file", "", "B", "2", "B=2\n", true},
		{"append after comment", "# B=1\n", "B", "2", "# B=1\nB=2\n", true},
		{"append no final newline", "A=1", "B", "2", "A=1\nB=2\n", true},
		{"append crlf", "A=1\r\n# c\r\n", "B", "2", "A=1\r\n# c\r\nB=2\r\n", true},
		{"append crlf no final newline", "A=1\r\nC=3", "B", "2", "A=1\r\nC=3\r\nB=2\r\n", true},
		{"append stray cr", "A=1\r", "B", "2", "A=1\r\nB=2\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.in)
			if got := f.Set(tt.key, tt.value); got != tt.changed {
				t.Errorf("Set() = %v, want %v", got, tt.changed)
			}
			checkBytes(t, f, tt.want)
			g := mustParse(t, tt.want)
			if got, ok := g.Get(tt.key); !ok || got != tt.value {
				t.Errorf("reparsed Get(%q) = %q, %v; want %q", tt.key, got, ok, tt.value)
			}
		})
	}
}

func TestSetInvalidKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Set with invalid key did not panic")
		}
	}()
	(&File{}).Set("1X", "v")
}

func TestUnset(t *testing.T) {
	tests := []struct {
		name, in, key, want string
		changed             bool
	}{
		{"one", "A=1\nB=2\n", "A", "B=2\n", true},
		{"all active", "A=1\n# A=0\n  A=2\nB=3\nA='4'\n", "A", "# A=0\nB=3\n", true},
		{"absent", "A=1\n# B=2\n", "B", "A=1\n# B=2\n", false},
		{"crlf", "A=1\r\nB=2\r\n", "A", "B=2\r\n", true},
		{"last without newline", "A=1\nB=2", "B", "A=1\n", true},
		{"only line", "A=1", "A", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.in)
			if got := f.Unset(tt.key); got != tt.changed {
				t.Errorf("Unset() = %v, want %v", got, tt.changed)
			}
			checkBytes(t, f, tt.want)
			if v, ok := f.Get(tt.key); ok {
				t.Errorf("Get(%q) after Unset = %q, true", tt.key, v)
			}
		})
	}
}

func TestComment(t *testing.T) {
	tests := []struct {
		name, in, key, want string
		changed             bool
	}{
		{"one", "MINIO_KMS_KES_ENDPOINT=https://kes:7373\nB=2\n", "MINIO_KMS_KES_ENDPOINT", "# MINIO_KMS_KES_ENDPOINT=https://kes:7373\nB=2\n", true},
		{"indent", "  A=\"x\"\n", "A", "  # A=\"x\"\n", true},
		{"every active", "A=1\nB=2\nA=3", "A", "# A=1\nB=2\n# A=3", true},
		{"already commented", "# A=1\n", "A", "# A=1\n", false},
		{"crlf", "A=1\r\n", "A", "# A=1\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.in)
			if got := f.Comment(tt.key); got != tt.changed {
				t.Errorf("Comment() = %v, want %v", got, tt.changed)
			}
			checkBytes(t, f, tt.want)
			if v, ok := mustParse(t, tt.want).Get(tt.key); ok {
				t.Errorf("Get(%q) after Comment = %q, true", tt.key, v)
			}
		})
	}
}

func TestCloneIsIndependent(t *testing.T) {
	f := mustParse(t, "A=1\n")
	g := f.Clone()
	g.Set("A", "2")
	g.Set("B", "3")
	checkBytes(t, f, "A=1\n")
	checkBytes(t, g, "A=2\nB=3\n")
}

func checkBytes(t *testing.T, f *File, want string) {
	t.Helper()
	if got := string(f.Bytes()); got != want {
		t.Errorf("Bytes() = %q, want %q", got, want)
	}
}

// TestSetRefusesNewline: no line of an env file holds a newline the way
// systemd reads it back ("\n" in double quotes stays two characters), so
// Set refuses such a value (callers check ValidValue first).
func TestSetRefusesNewline(t *testing.T) {
	for _, v := range []string{"a\nb", "a\x00b"} {
		if ValidValue(v) {
			t.Errorf("ValidValue(%q) = true", v)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(A, %q) did not panic", v)
				}
			}()
			mustParse(t, "A=1\n").Set("A", v)
		}()
	}
}
