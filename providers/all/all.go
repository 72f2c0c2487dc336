// Package all registers every system backend built into cutover.
package all

import (
	_ "github.com/cutover/cutover/providers/awskms"      // kms type "aws_kms"
	_ "github.com/cutover/cutover/providers/awssm"       // kms type "aws_secretsmanager"
	_ "github.com/cutover/cutover/providers/fs"          // kms type "fs"
	_ "github.com/cutover/cutover/providers/kes"         // kms type "kes"
	_ "github.com/cutover/cutover/providers/kubernetes"  // kubernetes blocks
	_ "github.com/cutover/cutover/providers/minio"       // minio blocks
	_ "github.com/cutover/cutover/providers/miniostatic" // kms type "minio_static"
	_ "github.com/cutover/cutover/providers/vault"       // kms type "vault"
)
