#!/usr/bin/env bash
# system-packages.sh installs the Debian packages the test suite runs for
# real (not Go modules): OpenSSH's sshd, ssh and ssh-keygen for the fleet
# tests, Chromium for the HTML report's browser test, iproute2, unshare,
# nsenter and mount for the fleet's network and mount namespaces.
#
# Usage: bash scripts/system-packages.sh
#
# Each package is checked by the file it provides; only what is missing is
# installed, with one `apt-get update` first. Installing needs root (CI
# runs as root); without root the script names what is missing and fails,
# so no test is silently skipped. Safe to run repeatedly.
set -euo pipefail

# need lists "package:file" pairs; add a line when a test needs a package.
need=(
	"openssh-server:/usr/sbin/sshd"
	"openssh-client:/usr/bin/ssh-keygen"
	"openssh-client:/usr/bin/ssh"
	"iproute2:/usr/sbin/ip"
	"util-linux:/usr/bin/unshare"
	"util-linux:/usr/bin/nsenter"
	"mount:/usr/bin/mount"
	"chromium:/usr/bin/chromium"
)

missing=()
for pair in "${need[@]}"; do
	pkg="${pair%%:*}"
	[ -e "${pair#*:}" ] || [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "system-packages: all present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "system-packages: missing ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "system-packages: installing ${missing[*]}..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's openssh-server enables and starts its own sshd where systemd
# runs; the tests start their own per node and never use the system one.
echo "system-packages: installed ${missing[*]}"
