package envfile

import (
	"testing"
)

func TestDigest(t *testing.T) {
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if got := Digest(nil); got != empty {
		t.Errorf("Digest(nil) = %s", got)
	}
	if Digest([]byte("A=1\n")) == Digest([]byte("A=1\r\n")) {
		t.Error("Digest ignores line endings")
	}
}
