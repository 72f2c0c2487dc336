package kesauth_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/kesauth"
	"github.com/cutover/cutover/internal/testing/testenv"
)

// TestIdentityAgreesWithKESBinary checks against `kes identity of` of the
// real KES binary (testenv.Bin: built by make tools; a missing binary fails
// under CI).
func TestIdentityAgreesWithKESBinary(t *testing.T) {
	kes := testenv.Bin(t, "kes")
	k, err := kesauth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kes, "identity", "of", k.Text()).CombinedOutput()
	if err != nil {
		t.Fatalf("kes identity of: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != k.Identity() {
		t.Errorf("kes identity of = %s, we computed %s", got, k.Identity())
	}
}
