// Package all registers every step type built into cutover.
package all

import (
	_ "github.com/cutover/cutover/steps/approve"         // approve
	_ "github.com/cutover/cutover/steps/backupkeys"      // backup_keys
	_ "github.com/cutover/cutover/steps/drain"           // drain
	_ "github.com/cutover/cutover/steps/envstep"         // env
	_ "github.com/cutover/cutover/steps/execstep"        // exec
	_ "github.com/cutover/cutover/steps/healthcheck"     // health_check
	_ "github.com/cutover/cutover/steps/kmscheck"        // kms_check
	_ "github.com/cutover/cutover/steps/migratekeys"     // migrate_keys
	_ "github.com/cutover/cutover/steps/restart"         // restart
	_ "github.com/cutover/cutover/steps/resume"          // resume
	_ "github.com/cutover/cutover/steps/rotatejwt"       // rotate_jwt
	_ "github.com/cutover/cutover/steps/validateobjects" // validate_objects
	_ "github.com/cutover/cutover/steps/verifykeys"      // verify_keys
)
