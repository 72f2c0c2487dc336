package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/madmin-go/v3"

	"github.com/cutover/cutover/internal/testing/testenv"
)

// With -cpuprofile the harness also profiles the servers while a
// contender runs, so a miss can be traced to where the server spends its
// time: Vault through its sys/pprof API (root token), MinIO through the
// admin profiling API (a zip of per-node profiles).

// profileServer starts a profile of d into <profileDir>/<name> and
// returns a function that waits for it; it does nothing without
// -cpuprofile. Failures are notes, never errors: profiling is extra.
func (b *bench) profileServer(name string, d time.Duration, fetch func(ctx context.Context, d time.Duration) (io.ReadCloser, error)) func() {
	if b.profileDir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
		defer cancel()
		err := func() error {
			if err := os.MkdirAll(b.profileDir, 0o755); err != nil {
				return err
			}
			rc, err := fetch(ctx, d)
			if err != nil {
				return err
			}
			defer rc.Close()
			f, err := os.Create(filepath.Join(b.profileDir, name))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(f, rc)
			return err
		}()
		if err != nil {
			b.report.Note("profile %s: %v", name, err)
		}
	}()
	return func() { <-done }
}

// vaultProfiler fetches a CPU profile of a Vault dev server.
func vaultProfiler(v *testenv.VaultServer) func(ctx context.Context, d time.Duration) (io.ReadCloser, error) {
	return func(ctx context.Context, d time.Duration) (io.ReadCloser, error) {
		url := fmt.Sprintf("%s/v1/sys/pprof/profile?seconds=%d", v.Addr, max(1, int(d.Seconds())))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Vault-Token", v.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return nil, fmt.Errorf("vault pprof: %s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		return resp.Body, nil
	}
}

// minioProfiler fetches a CPU profile of a MinIO server (a zip).
func minioProfiler(m *testenv.MinIOServer) func(ctx context.Context, d time.Duration) (io.ReadCloser, error) {
	return func(ctx context.Context, d time.Duration) (io.ReadCloser, error) {
		adm, err := madmin.New(m.Addr, m.AccessKey, m.SecretKey, false)
		if err != nil {
			return nil, err
		}
		return adm.Profile(ctx, madmin.ProfilerCPU, d)
	}
}
