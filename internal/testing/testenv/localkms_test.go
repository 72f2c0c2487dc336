package testenv

import "testing"

// LocalKMS starts, answers ListKeys (its readiness probe) on the endpoint it
// reports, and is stopped by the cleanup.
func TestLocalKMS(t *testing.T) {
	k := LocalKMS(t, LocalKMSOptions{Region: "eu-west-3"})
	if err := k.ready(); err != nil {
		t.Fatalf("local-kms at %s: %v", k.Endpoint, err)
	}
	k.Stop()
	if err := k.ready(); err == nil {
		t.Fatal("local-kms still answers after Stop")
	}
}
