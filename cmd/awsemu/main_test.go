package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesAndStops(t *testing.T) {
	dir := t.TempDir()
	addrFile, state := filepath.Join(dir, "addr"), filepath.Join(dir, "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-access-key", "AKIDCMD", "-secret-key", "cmdsecret", "-region", "eu-central-1",
			"-addr-file", addrFile, "-state", state}, &stdout, &stdout)
	}()
	addr := waitForFile(t, addrFile)
	if got := strings.TrimSpace(stdout.String()); got != "http://"+addr {
		t.Fatalf("stdout %q, want endpoint http://%s", got, addr)
	}
	client := secretsmanager.NewFromConfig(aws.Config{Region: "eu-central-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDCMD", "cmdsecret", "")},
		func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String("http://" + addr) })
	if _, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("x"), SecretString: aws.String("y")}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Fatalf("address file left behind: %v", err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state file: %v", err)
	}
}

func waitForFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

func TestRunRequiresCredentials(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-secret-key", "s"}, &out, &out); err == nil {
		t.Fatal("run without -access-key succeeded")
	}
}
