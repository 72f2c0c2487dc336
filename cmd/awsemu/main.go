// Command awsemu serves the emulator of AWS KMS and AWS Secrets Manager
// (package internal/testing/awsemu) over HTTP, so demos and scripts can point AWS
// SDKs and CLIs at it instead of AWS.
//
// Usage:
//
//	awsemu -access-key AKID -secret-key SECRET [-addr 127.0.0.1:0]
//	       [-region us-east-1] [-account 111122223333] [-state FILE]
//	       [-addr-file FILE] [-create-key ALIAS]... [-key-file FILE] [-v]
//
// Once listening it prints the endpoint ("http://host:port") on stdout and,
// with -addr-file, writes the bound address ("host:port") to that file
// atomically, so a script that asked for port 0 can find the port. With
// -state the emulator's keys and secrets survive restarts. SIGTERM or
// SIGINT stops it cleanly (in-flight requests finish, the address file is
// removed) with exit status 0.
//
// -create-key ALIAS (repeatable, or a comma-separated list) makes sure a
// symmetric KMS key (origin AWS_KMS) with that alias exists before the
// address is announced: an alias that already exists (with -state, from an
// earlier run) is left as it is, so the flag is idempotent. "demoapp" and
// "alias/demoapp" name the same alias. -key-file FILE then receives one
// "alias/NAME=ARN" line per -create-key alias, written atomically before the
// address file, so a script can read the key ARNs once the address appears.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/internal/testing/awsemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "awsemu:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	addr, region, account, accessKey, secretKey, state, addrFile string
	keyFile                                                      string
	createKeys                                                   aliasList
	verbose                                                      bool
}

// aliasList is the value of -create-key: repeatable, commas split.
type aliasList []string

func (l *aliasList) String() string { return strings.Join(*l, ",") }

func (l *aliasList) Set(v string) error {
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !strings.HasPrefix(a, "alias/") {
			a = "alias/" + a
		}
		if a == "alias/" || strings.HasPrefix(a, "alias/aws/") {
			return fmt.Errorf("invalid alias %q", a)
		}
		if !slices.Contains(*l, a) {
			*l = append(*l, a)
		}
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("awsemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	fs.StringVar(&o.region, "region", "us-east-1", "the region served (credential scope and ARNs)")
	fs.StringVar(&o.account, "account", "111122223333", "the 12-digit account id in ARNs")
	fs.StringVar(&o.accessKey, "access-key", "", "the access key id clients sign with (required)")
	fs.StringVar(&o.secretKey, "secret-key", "", "the secret access key clients sign with (required)")
	fs.StringVar(&o.state, "state", "", "file keeping the state across restarts (holds key material; mode 0600)")
	fs.StringVar(&o.addrFile, "addr-file", "", "file to write the bound host:port to once listening")
	fs.Var(&o.createKeys, "create-key", "make sure a symmetric key with this `ALIAS` exists at start (repeatable, or a comma list)")
	fs.StringVar(&o.keyFile, "key-file", "", "file to write one \"alias/NAME=ARN\" line per -create-key alias to")
	fs.BoolVar(&o.verbose, "v", false, "log every request on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.accessKey == "" || o.secretKey == "" {
		return nil, errors.New("-access-key and -secret-key are required")
	}
	if o.keyFile != "" && len(o.createKeys) == 0 {
		return nil, errors.New("-key-file needs at least one -create-key alias")
	}
	return &o, nil
}

// run serves until ctx is cancelled, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg := awsemu.Config{Region: o.region, AccountID: o.account, StateFile: o.state,
		Credentials: map[string]string{o.accessKey: o.secretKey}}
	if o.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	emu, err := awsemu.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if err := ensureKeys(ctx, o, "http://"+ln.Addr().String()); err != nil {
		_ = srv.Close()
		return err
	}
	if err := announce(ln.Addr().String(), o.addrFile, stdout); err != nil {
		_ = srv.Close()
		return err
	}
	if o.addrFile != "" {
		defer os.Remove(o.addrFile)
	}
	return wait(ctx, srv, errc)
}

// ensureKeys creates the -create-key keys that do not exist yet, through
// the emulator's own KMS API (with the real SDK), and writes -key-file.
func ensureKeys(ctx context.Context, o *options, endpoint string) error {
	if len(o.createKeys) == 0 {
		return nil
	}
	client := kms.NewFromConfig(aws.Config{Region: o.region,
		Credentials: credentials.NewStaticCredentialsProvider(o.accessKey, o.secretKey, "")},
		func(opts *kms.Options) { opts.BaseEndpoint = aws.String(endpoint) })
	var lines strings.Builder
	for _, alias := range o.createKeys {
		arn, err := ensureKey(ctx, client, alias)
		if err != nil {
			return fmt.Errorf("-create-key %s: %w", alias, err)
		}
		fmt.Fprintf(&lines, "%s=%s\n", alias, arn)
	}
	if o.keyFile != "" {
		if err := fsutil.WriteFileAtomic(o.keyFile, []byte(lines.String()), 0o600); err != nil {
			return fmt.Errorf("write key file: %w", err)
		}
	}
	return nil
}

// ensureKey returns the ARN of the key alias names, creating the key and
// the alias if the alias does not exist.
func ensureKey(ctx context.Context, client *kms.Client, alias string) (string, error) {
	out, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err == nil {
		return aws.ToString(out.KeyMetadata.Arn), nil
	}
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		return "", err
	}
	created, err := client.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("created by awsemu -create-key " + alias),
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
		Origin:      types.OriginTypeAwsKms,
	})
	if err != nil {
		return "", err
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias),
		TargetKeyId: created.KeyMetadata.KeyId}); err != nil {
		return "", err
	}
	return aws.ToString(created.KeyMetadata.Arn), nil
}

// announce prints the endpoint, then writes the address file: the file
// is the signal that the emulator is ready, so it comes last.
func announce(addr, addrFile string, stdout io.Writer) error {
	if _, err := fmt.Fprintf(stdout, "http://%s\n", addr); err != nil {
		return err
	}
	if addrFile != "" {
		if err := fsutil.WriteFileAtomic(addrFile, []byte(addr+"\n"), 0o600); err != nil {
			return fmt.Errorf("write address file: %w", err)
		}
	}
	return nil
}

// wait returns when the server fails or, once ctx is done, has shut down.
func wait(ctx context.Context, srv *http.Server, errc <-chan error) error {
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
