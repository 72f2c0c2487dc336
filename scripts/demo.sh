#!/usr/bin/env bash
# scripts/demo.sh: what `make demo` runs (tracker issue 6).
#
# Cuts examples/demoapp, a small service that behaves like Sombra, over from
# its local KMS to AWS KMS (the in-repo emulator, internal/testing/awsemu), with the
# plans in examples/sombra-local-to-aws/:
#
#   1. rehearsal-fail.hcl fails a check on purpose: cutover rolls back on its
#      own (exit 3) and the app is back on the local KMS, old items readable;
#   2. plan.hcl cuts over for real (exit 0);
#   3. cutover status, then the proof: old tokens still verify, new tokens
#      carry the new JWT key's kid, new items are written under AWS KMS.
#
# Needs only Go and bash (no `make tools`, no curl, no openssl): the four
# binaries it builds into bin/ do everything. Everything it starts lives in
# a temporary directory and is stopped on exit, Ctrl-C included.
#
# Environment: DEMO_PLANS=DIR runs DIR/rehearsal-fail.hcl and DIR/plan.hcl
# instead; DEMO_KEEP=1 keeps the temporary directory (processes still stop).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=$root/bin
plans=${DEMO_PLANS:-$root/examples/sombra-local-to-aws}
rehearsal_plan=$plans/rehearsal-fail.hcl
cutover_plan=$plans/plan.hcl
region=us-east-1
began=$SECONDS

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cutover-demo.XXXXXX")
sup_dir=$tmp/supervise
sup_pid=""
emu_pid=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [[ $rc -eq 130 || $rc -eq 143 ]]; then
		echo "demo.sh: interrupted: stopping the app and the emulator" >&2
	elif [[ $rc -ne 0 ]]; then
		echo >&2
		echo "demo.sh: FAILED (exit $rc)" >&2
		if [[ -f $sup_dir/log ]]; then
			echo "--- last lines of the app's log ($sup_dir/log):" >&2
			tail -n 25 "$sup_dir/log" >&2
		fi
		if [[ -f $tmp/awsemu.log ]]; then
			echo "--- last lines of the emulator's log:" >&2
			tail -n 10 "$tmp/awsemu.log" >&2
		fi
	fi
	if [[ -n $sup_pid ]]; then
		"$bin/supervise" stop --dir "$sup_dir" >/dev/null 2>&1 || kill "$sup_pid" 2>/dev/null
		wait "$sup_pid" 2>/dev/null
	fi
	if [[ -n $emu_pid ]]; then
		kill "$emu_pid" 2>/dev/null
		wait "$emu_pid" 2>/dev/null
	fi
	if [[ ${DEMO_KEEP:-} == 1 ]]; then
		echo "demo.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

section() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
die() {
	printf 'demo.sh: %s\n' "$*" >&2
	exit 1
}

# hcl_string quotes $1 as an HCL string literal.
hcl_string() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//\$\{/\$\$\{}
	s=${s//%\{/%%\{}
	printf '"%s"' "$s"
}

require_plan() {
	[[ -f $1 ]] && return 0
	die "plan $1 is missing.
   The Sombra plans (examples/sombra-local-to-aws/plan.hcl and rehearsal-fail.hcl) land with
   tracker issue 6; until then, point DEMO_PLANS at a directory holding both files."
}

client() { "$bin/demoapp" client "$@"; }

# provider_of ID prints the KMS provider item ID was written under.
provider_of() {
	local i p st
	while read -r i p st; do
		if [[ $i == "$1" ]]; then echo "$p"; fi
	done < <(client list "$app_url")
}

require_plan "$rehearsal_plan"
require_plan "$cutover_plan"

# ------------------------------------------------------------------------
section "0. setup: build, start the AWS KMS emulator and the app on its local KMS"
t0=$SECONDS
say "go build (the first time, with an empty Go cache, this takes about a minute)"
mkdir -p "$bin"
go build -o "$bin/" ./cmd/cutover ./examples/demoapp ./cmd/awsemu ./cmd/supervise
say "built bin/cutover bin/demoapp bin/awsemu bin/supervise ($((SECONDS - t0))s)"

access_key=AKIACUTOVERDEMO00001
secret_key=$("$bin/demoapp" keygen -type aes256)
"$bin/awsemu" -addr 127.0.0.1:0 -addr-file "$tmp/awsemu.addr" -region "$region" \
	-access-key "$access_key" -secret-key "$secret_key" -state "$tmp/awsemu-state.json" \
	-create-key alias/demoapp -key-file "$tmp/awsemu.keys" >"$tmp/awsemu.log" 2>&1 &
emu_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -s $tmp/awsemu.addr ]] && break
	kill -0 "$emu_pid" 2>/dev/null || die "the emulator exited: $(<"$tmp/awsemu.log")"
	sleep 0.1
done
[[ -s $tmp/awsemu.addr ]] || die "the emulator did not start within 10s"
aws_endpoint=http://$(<"$tmp/awsemu.addr")
aws_kms_key_arn=""
while IFS= read -r line; do
	[[ $line == alias/demoapp=* ]] && aws_kms_key_arn=${line#*=}
done <"$tmp/awsemu.keys"
[[ -n $aws_kms_key_arn ]] || die "the emulator's key file names no alias/demoapp key"
say "AWS KMS emulator on $aws_endpoint, key alias/demoapp = $aws_kms_key_arn"

"$bin/demoapp" keygen -type aes256 >"$tmp/local-kms.key"
jwt_old=$("$bin/demoapp" keygen)
jwt_new=$("$bin/demoapp" keygen)
listen_addr=$("$bin/demoapp" freeport)
app_url=http://$listen_addr
env_file=$tmp/app.env
cat >"$env_file" <<EOF
# demoapp's environment, read by the supervisor at every (re)start
# (like systemd's EnvironmentFile=).
LISTEN_ADDR=$listen_addr
DATA_DIR=$tmp/data
JOB_DURATION=300ms
KMS_PROVIDER=local
LOCAL_KMS_KEY_FILE=$tmp/local-kms.key
JWT_ECDSA_KEY=$jwt_old
# AWS access is provisioned ahead of the window (on AWS: the instance's IAM role).
AWS_REGION=$region
AWS_ENDPOINT_URL=$aws_endpoint
AWS_ACCESS_KEY_ID=$access_key
AWS_SECRET_ACCESS_KEY=$secret_key
EOF
"$bin/supervise" run --dir "$sup_dir" --env-file "$env_file" -- "$bin/demoapp" >"$tmp/supervise.out" 2>&1 &
sup_pid=$!
client health -wait 15s "$app_url" >/dev/null || die "demoapp did not become healthy"
say "demoapp on $app_url under bin/supervise, env file $env_file"
say "health: $(client health "$app_url")"

# ------------------------------------------------------------------------
section "1. before the window: work items and a token under the local KMS"
old_items=()
for payload in "invoice #1001" "access request from ada@example.com" "erasure request from bob@example.com"; do
	id=$(client put -wait 10s "$app_url" "$payload")
	old_items+=("$id")
	say "stored item $id: $payload"
done
old_item=${old_items[0]}
old_token=$(client token "$app_url")
old_kid=$(client kid "$old_token")
say "issued a token signed by the current JWT key (kid $old_kid)"
# Two items still in flight when the window opens: the drain waits for them.
client put "$app_url" "in flight at the start of the rehearsal" >/dev/null
client put "$app_url" "also in flight" >/dev/null
say "2 more items submitted, in flight for 300ms"

# What the plans take (CUTOVER_VAR_<name>, as Terraform's TF_VAR_).
export CUTOVER_VAR_app_url=$app_url
export CUTOVER_VAR_env_file=$env_file
export CUTOVER_VAR_restart_command="[$(hcl_string "$bin/supervise"), \"restart\", \"--dir\", $(hcl_string "$sup_dir")]"
export CUTOVER_VAR_aws_endpoint=$aws_endpoint
export CUTOVER_VAR_aws_region=$region
export CUTOVER_VAR_aws_kms_key_arn=$aws_kms_key_arn
export CUTOVER_VAR_aws_access_key_id=$access_key
export CUTOVER_VAR_aws_secret_access_key=$secret_key
# Also available to the plans (cutover ignores the ones a plan does not declare):
export CUTOVER_VAR_demoapp=$bin/demoapp          # for exec checks: demoapp client get URL ID
export CUTOVER_VAR_old_item_id=$old_item          # an item written under the local KMS
export CUTOVER_VAR_jwt_new_key=$jwt_new           # JWT_ECDSA_KEY becomes "new,old"
export CUTOVER_VAR_jwt_old_key=$jwt_old

# run_plan NAME PLAN WANT: cutover run, checking its exit code.
run_plan() {
	local name=$1 plan=$2 want=$3 rc=0
	require_plan "$plan"
	echo "   \$ cutover run --yes --state \$TMP/state/$name ${plan#"$root"/}"
	"$bin/cutover" run --yes --state "$tmp/state/$name" "$plan" || rc=$?
	[[ $rc -eq $want ]] || die "cutover run ${plan#"$root"/} exited $rc, want $want"
	say "cutover exited $rc, as expected"
}

# ------------------------------------------------------------------------
section "2. rehearsal: rehearsal-fail.hcl fails a check on purpose -> automatic rollback"
run_plan rehearsal "$rehearsal_plan" 3
health=$(client health -wait 10s "$app_url")
[[ $health == *'"kms":"local"'* ]] || die "after the rollback the app does not run on the local KMS: $health"
say "health after the rollback: $health"
for id in "${old_items[@]}"; do
	payload=$(client get "$app_url" "$id")
	say "old item $id still reads: $payload"
done
id=$(client put -wait 10s "$app_url" "written after the rehearsal") || die "the app does not take work after the rollback (still paused?)"
say "traffic is back: new item $id stored under KMS provider $(provider_of "$id")"

# ------------------------------------------------------------------------
section "3. cutover: plan.hcl moves the app to AWS KMS"
run_plan cutover "$cutover_plan" 0

section "4. status"
echo "   \$ cutover status --state \$TMP/state/cutover ${cutover_plan#"$root"/}"
"$bin/cutover" status --state "$tmp/state/cutover" "$cutover_plan"

# ------------------------------------------------------------------------
section "5. after the cutover"
health=$(client health -wait 10s "$app_url")
[[ $health == *'"kms":"AWS"'* ]] || die "after the cutover the app does not run on AWS KMS: $health"
say "health: $health"
kids=()
while IFS= read -r kid; do kids+=("$kid"); done < <("$bin/demoapp" kids -env-file "$env_file")
say "JWT_ECDSA_KEY now lists kids: ${kids[*]} (new first)"
verified=$(client verify "$app_url" "$old_token") || die "the token issued before the cutover no longer verifies"
say "the token issued before the cutover still verifies (kid $verified)"
new_token=$(client token "$app_url")
new_kid=$(client kid "$new_token")
client verify "$app_url" "$new_token" >/dev/null || die "a new token does not verify"
[[ $new_kid == "${kids[0]}" ]] || die "a new token carries kid $new_kid, not the first key's (${kids[0]})"
[[ $new_kid != "$old_kid" ]] || die "JWT_ECDSA_KEY was not rotated: new tokens still carry kid $old_kid"
say "a new token carries the new key's kid $new_kid"
id=$(client put -wait 10s "$app_url" "written after the cutover")
say "new item $id: $(client get "$app_url" "$id")"
if msg=$(client get "$app_url" "$old_item" 2>&1); then
	die "an item written under the local KMS still reads under AWS: $msg"
fi
say "an item written under the local KMS does not (no hybrid KMS; download before the window):"
say "  ${msg#demoapp client get: }"
say "items by provider (GET /work):"
client list "$app_url" | while read -r i p s; do say "  $i  $p  $s"; done

section "done in $((SECONDS - began))s: stopping the app and the emulator"
