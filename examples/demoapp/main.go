// Command demoapp is a small HTTP service that behaves like Sombra for a KMS
// cutover (see README.md and package app), plus the few tools a demo
// script needs on a machine that has nothing but Go and bash:
//
//	demoapp                      serve (configuration from the environment)
//	demoapp keygen [-type ecdsa|aes256]
//	                             print a new JWT_ECDSA_KEY entry (base64 PKCS#8
//	                             P-256) or a base64 32-byte local KMS key
//	demoapp kids [-env-file F]   print the kid of each JWT_ECDSA_KEY key, new
//	                             first (from F, else from the environment)
//	demoapp freeport             print a free 127.0.0.1:PORT
//	demoapp client ...           talk to a running demoapp (see "demoapp client")
//
// The server exits 1 with one line on stderr when its configuration is
// invalid, and 0 after a graceful shutdown on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cutover/cutover/examples/demoapp/app"
	"github.com/cutover/cutover/internal/testing/supervisor"
)

const usage = `usage:
  demoapp                                 serve; configuration from the environment (see README.md)
  demoapp keygen [-type ecdsa|aes256]     print a new JWT key (base64 PKCS#8 P-256) or local KMS key
  demoapp kids [-env-file FILE]           print the kid of each JWT_ECDSA_KEY key, new first
  demoapp freeport                        print a free 127.0.0.1:PORT
  demoapp client COMMAND URL ...          talk to a running demoapp ("demoapp client" lists commands)`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the subcommand args names and returns the exit status.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return serve(stdout, stderr)
	}
	var err error
	switch args[0] {
	case "keygen":
		err = keygen(args[1:], stdout, stderr)
	case "kids":
		err = kids(args[1:], stdout, stderr)
	case "freeport":
		err = freeport(stdout)
	case "client":
		return client(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "demoapp: unknown command %q\n%s\n", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "demoapp:", err)
		return 1
	}
	return 0
}

// serve runs the service until SIGTERM or SIGINT.
func serve(stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Getenv, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "demoapp:", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	return 0
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demoapp keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "ecdsa", "ecdsa: a JWT_ECDSA_KEY entry; aes256: a local KMS key file's content")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keygen: unexpected arguments %q", fs.Args())
	}
	switch *typ {
	case "ecdsa":
		k, err := app.GenerateJWTKey()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, k)
		return err
	case "aes256":
		k, err := app.GenerateLocalKey()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, k)
		return err
	}
	return fmt.Errorf("keygen: -type %q: use ecdsa or aes256", *typ)
}

func kids(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demoapp kids", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "read JWT_ECDSA_KEY from this env file instead of the environment")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list := os.Getenv("JWT_ECDSA_KEY")
	if *envFile != "" {
		env, err := supervisor.ReadEnvFile(*envFile)
		if err != nil {
			return err
		}
		list = ""
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "JWT_ECDSA_KEY="); ok {
				list = v
			}
		}
	}
	keys, err := app.ParseJWTKeys(list)
	if err != nil {
		return err
	}
	for _, k := range keys {
		fmt.Fprintln(stdout, app.KeyID(&k.PublicKey))
	}
	return nil
}

func freeport(stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, addr)
	return err
}
