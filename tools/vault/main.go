// Command vault is HashiCorp Vault v1.21.0, built from the Go module proxy
// for cutover's test suite by scripts/tools.sh into bin/vault.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
