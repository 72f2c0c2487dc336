// Package all registers every system backend built into cutover.
package all

import (
	_ "github.com/cutover/cutover/providers/awssm" // kms type "aws_secretsmanager"
	_ "github.com/cutover/cutover/providers/fs"    // kms type "fs"
	_ "github.com/cutover/cutover/providers/vault" // kms type "vault"
)
