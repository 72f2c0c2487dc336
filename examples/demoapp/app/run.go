package app

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
)

// Run is demoapp's server process: it reads the configuration through
// getenv, builds the KMS, listens, prints "demoapp: listening on ADDR (kms
// PROVIDER)" on stdout and serves until ctx ends. Errors (a configuration
// error wraps ErrConfig) never contain key material.
func Run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	k, err := NewKMS(cfg)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "demoapp: ", log.LstdFlags)
	srv, err := NewServer(cfg, k, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	fmt.Fprintf(stdout, "demoapp: listening on %s (kms %s)\n", ln.Addr(), k.Provider())
	if srv.paused {
		logger.Printf("starting paused (%s exists): POST /admin/resume lets work in", srv.pausePath())
	}
	return srv.Serve(ctx, ln)
}
