package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// example is one entry of a command's EXAMPLES section in its --help: what
// it does, as a shell comment, and the command line, ready to paste.
type example struct{ what, line string }

// examples are the EXAMPLES of each command's --help, by the command's path
// under cutover ("" is cutover itself, "keys restore" a subcommand). Every
// command has some (TestEveryCommandHasExamples), and every flag an example
// uses is one of its command's (TestExamplesUseRealFlags).
var examples = map[string][]example{
	"": {
		{"check the plan, then see what it would do (read-only)", "cutover validate plan.hcl && cutover plan plan.hcl"},
		{"run it inside its window; a failure before the point of no return rolls back", "cutover run --var-file prod.hcl plan.hcl"},
		{"where is it, and what to run next", "cutover status plan.hcl"},
	},
	"validate": {
		{"check syntax, types and references without contacting anything", "cutover validate plan.hcl"},
		{"also check the variables' values and validations", "cutover validate --var-file prod.hcl --var ticket=CHG-1234 plan.hcl"},
	},
	"plan": {
		{"preflight every system read-only and print the ordered actions", "cutover plan --var-file prod.hcl plan.hcl"},
		{"the same as JSON, for a change ticket", "cutover plan --json --var-file prod.hcl plan.hcl > plan.json"},
		{"a sensitive variable from the environment instead of a file", "CUTOVER_VAR_vault_token=... cutover plan plan.hcl"},
	},
	"run": {
		{"run the plan; resume it after a crash with the same command", "cutover run --var-file prod.hcl plan.hcl"},
		{"unattended: approve steps pass, events as JSON lines", "cutover run --yes --json --var-file prod.hcl plan.hcl > events.jsonl"},
		{"settle a step a crash left started (as status or the refusal says)", "cutover run --resolve exec.reindex=done --var-file prod.hcl plan.hcl"},
		{"only show what would run (same as cutover plan)", "cutover run --dry-run --var-file prod.hcl plan.hcl"},
	},
	"rollback": {
		{"roll back the run in the checkpoint, or continue a stopped rollback", "cutover rollback --var-file prod.hcl plan.hcl"},
		{"after the point of no return: data written since then is lost", "cutover rollback --accept-data-loss --var-file prod.hcl plan.hcl"},
		{"a file changed since its step: put back the original, or keep it", "cutover rollback --overwrite env.switch=/etc/default/app plan.hcl"},
		{"", "cutover rollback --keep env.switch=/etc/default/app plan.hcl"},
	},
	"status": {
		{"steps, times, where the run stopped and what to run next", "cutover status plan.hcl"},
		{"the checkpoint as JSON, from a state directory elsewhere", "cutover status --json --state /var/lib/cutover/app plan.hcl"},
		{"watch the run in progress from another terminal, to its end", "cutover status --follow plan.hcl"},
	},
	"unlock": {
		{"remove a lock whose process is gone (the ID is in the refusal and in status)", "cutover unlock 3f9c2a7d51e08b46 plan.hcl"},
		{"look for the lock under a state directory of its own", "cutover unlock 3f9c2a7d51e08b46 --state /var/lib/cutover/app"},
	},
	"reset": {
		{"archive a finished run under history/ so the plan can run again", "cutover reset plan.hcl"},
	},
	"keys": {
		{"restore a backup_keys backup into a store the plan declares", "cutover keys restore --plan plan.hcl --to kms.vault --identity ops.key backups/keys.age"},
	},
	"keys restore": {
		{"restore with the operators' age identity", "cutover keys restore --plan plan.hcl --to kms.vault --identity ops.key backups/keys.age"},
		{"a passphrase backup: the passphrase is read from an environment variable", "BACKUP_PASS=... cutover keys restore --plan plan.hcl --to kms.aws --passphrase-env BACKUP_PASS backups/keys.age"},
	},
	"rehearse": {
		{"on staging: run, roll back on purpose, time both, judge the window", "cutover rehearse --yes --var-file staging.hcl plan.hcl"},
		{"three rehearsals, for the spread of the times", "cutover rehearse --times 3 --yes --var-file staging.hcl plan.hcl"},
	},
	"report": {
		{"the last run's or rehearsal's timeline as one HTML page", "cutover report --out rehearsal.html --var-file staging.hcl plan.hcl"},
		{"to standard output", "cutover report --out - plan.hcl > report.html"},
	},
}

// examplesText renders a command's examples for its help page.
func examplesText(list []example) string {
	var b strings.Builder
	b.WriteString("\nEXAMPLES:\n")
	for i, ex := range list {
		if ex.what != "" {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString("   # " + ex.what + "\n")
		}
		b.WriteString("   " + ex.line + "\n")
	}
	return b.String()
}

// setExamples gives the command at path its help template: urfave/cli's,
// followed by its EXAMPLES.
func setExamples(c *cli.Command, path string) {
	list, ok := examples[path]
	if !ok {
		return
	}
	base := cli.CommandHelpTemplate
	if len(c.Subcommands) > 0 {
		base = cli.SubcommandHelpTemplate
	}
	c.CustomHelpTemplate = base + examplesText(list)
}
