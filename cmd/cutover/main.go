// Command cutover moves encryption keys from one KMS to another inside a
// maintenance window, driven by an HCL runbook. See internal/cli.
package main

import (
	"os"

	"github.com/cutover/cutover/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
