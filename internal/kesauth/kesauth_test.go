package kesauth

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// An API key and its identity as printed by `kes identity new` (v0.24.0).
const (
	fixtureKey      = "kes:v1:AHuVhurG3OZwzmqAsjDtzMX0c39v25IefOc/C/b78Gih"
	fixtureIdentity = "bba36022f5766b59e1379366a0dfca80fa784758d730ec2fe10057b5d73cc09f"
)

func TestParseMatchesKES(t *testing.T) {
	k, err := Parse(fixtureKey)
	if err != nil {
		t.Fatal(err)
	}
	if k.Identity() != fixtureIdentity {
		t.Errorf("identity = %s, want %s", k.Identity(), fixtureIdentity)
	}
	if k.Text() != fixtureKey {
		t.Errorf("Text() does not round-trip the key")
	}
	if strings.Contains(k.String(), "kes:v1:") || !strings.Contains(k.String(), fixtureIdentity) {
		t.Errorf("String() = %q: must show the identity only", k.String())
	}
}

func TestParseRejectsWithoutEchoing(t *testing.T) {
	bad := []string{"", "kes:v1:", "kes:v2:AHuVhurG3OZwzmqAsjDtzMX0c39v25IefOc/C/b78Gih",
		"AHuVhurG3OZwzmqAsjDtzMX0c39v25IefOc/C/b78Gih", "kes:v1:AHuV!!!",
		"kes:v1:AXuVhurG3OZwzmqAsjDtzMX0c39v25IefOc/C/b78Gih", "kes:v1:AHuVhurG3OZwzmqAsjDtzMX0c39v25Ie"}
	for _, s := range bad {
		_, err := Parse(s)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", s, err)
			continue
		}
		if rest := strings.TrimPrefix(s, "kes:v1:"); len(rest) > 3 && strings.Contains(err.Error(), rest) {
			t.Errorf("error %q echoes the key", err)
		}
	}
}

func TestCertificateIdentity(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := k.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	id, err := Identity(leaf.PublicKey)
	if err != nil || id != k.Identity() || leaf.Subject.CommonName != id {
		t.Fatalf("certificate identity %s (cn %s, %v), want %s", id, leaf.Subject.CommonName, err, k.Identity())
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("ExtKeyUsage = %v, want client auth", leaf.ExtKeyUsage)
	}
}
