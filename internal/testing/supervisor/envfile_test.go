package supervisor

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	in := `# /etc/default/minio
MINIO_ROOT_USER=admin

export MINIO_VOLUMES="/data one"
  SINGLE='a "b" c'
ESCAPED="say \"hi\" \\o/"
EMPTY=
WITH_EQUALS=a=b=c
	# indented comment
UNBALANCED="abc
`
	want := []string{
		"MINIO_ROOT_USER=admin",
		"MINIO_VOLUMES=/data one",
		`SINGLE=a "b" c`,
		`ESCAPED=say "hi" \o/`,
		"EMPTY=",
		"WITH_EQUALS=a=b=c",
		`UNBALANCED="abc`,
	}
	got, err := ParseEnv(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseEnv:\n got %q\nwant %q", got, want)
	}
}

func TestParseEnvErrors(t *testing.T) {
	for _, in := range []string{"NOEQUALS", "1BAD=x", "BAD-NAME=x", "=x"} {
		_, err := ParseEnv(strings.NewReader("OK=1\n" + in + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ParseEnv(%q) = %v, want an error naming line 2", in, err)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/root"}
	over := []string{"HOME=/tmp", "A=1", "A=2"}
	want := []string{"PATH=/bin", "HOME=/tmp", "A=2"}
	if got := MergeEnv(base, over); !reflect.DeepEqual(got, want) {
		t.Errorf("MergeEnv = %q, want %q", got, want)
	}
}
