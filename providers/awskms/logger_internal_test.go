package awskms

import (
	"context"
	"testing"

	"github.com/aws/smithy-go/logging"
)

// TestSDKLoggerIsOff: the AWS SDK's default logger writes warnings (retries,
// response checksums) straight to stderr; cutover's config turns it off.
func TestSDKLoggerIsOff(t *testing.T) {
	c := &Config{Region: "eu-west-1", AccessKey: "AKIDCUTOVERTEST", SecretKey: "cutover-test-secret-key"}
	cfg, err := c.awsConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Logger.(logging.Nop); !ok {
		t.Fatalf("the SDK logger is %T, want logging.Nop", cfg.Logger)
	}
	if cfg.ClientLogMode != 0 {
		t.Fatalf("client log mode %v, want none", cfg.ClientLogMode)
	}
}
