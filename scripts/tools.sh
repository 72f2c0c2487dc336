#!/usr/bin/env bash
# tools.sh builds the real servers the test suite runs (minio, mc, kes,
# kes-v0.23, local-kms, vault, etcd, kube-apiserver, kube-controller-manager)
# from the Go module proxy into the repository's bin/. local-kms is
# nsmithuk/local-kms, an AWS KMS emulator. kes-v0.23 is KES v0.23.0, kept for
# the tests of a target KES too old to read KES v0.24.0's ciphertexts. etcd
# and the two Kubernetes servers back the Kubernetes transport's tests.
#
# Usage: bash scripts/tools.sh [name...]     (default: all nine, in order)
#
# Each tool has its own Go module under tools/<name>/ (go.mod, go.sum and a
# tools.go or main.go), so the product's go.mod never carries server code.
# A build is keyed by a hash of that folder's files plus the build recipe:
#   - bin/<name> whose stamp (bin/.<name>.stamp) matches: nothing to do;
#   - else $CUTOVER_TOOLS_CACHE/<name>-<hash> (default
#     ~/.cache/cutover-tools): hard-linked (or copied) into bin/;
#   - else built there once, then linked into bin/.
# So a fresh clone on the same machine (CI) reuses binaries instead of
# rebuilding (vault alone takes ~12 minutes cold). Builds run one at a
# time; the script is idempotent and safe to run concurrently (flock).
# A tool may add linker flags (ldflags below; part of its key). The
# Kubernetes servers and etcd build with a throwaway GOCACHE (Kubernetes
# alone fills ~4 GB), shared by the tools of one run and removed at exit.
# It prints one line per tool and exits non-zero naming the tool that
# failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${CUTOVER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cutover-tools}
recipe="CGO_ENABLED=0 go build -trimpath -ldflags=-s -w"

# pkg prints the package to build for a tool, relative to its module.
pkg() {
	case $1 in
	minio) echo github.com/minio/minio ;;
	mc) echo github.com/minio/mc ;;
	kes | kes-v0.23) echo github.com/minio/kes/cmd/kes ;;
	local-kms) echo github.com/nsmithuk/local-kms ;;
	vault) echo . ;;
	etcd) echo go.etcd.io/etcd/server/v3 ;;
	kube-apiserver | kube-controller-manager) echo "k8s.io/kubernetes/cmd/$1" ;;
	*) return 1 ;;
	esac
}

# ldflags prints the linker flags of a tool: -s -w, plus the version stamps
# the Kubernetes build (hack/lib/version.sh) sets, which the servers report
# and the clients' discovery reads.
ldflags() {
	local flags="-s -w" v=v1.37.2 var p
	case $1 in
	kube-apiserver | kube-controller-manager)
		for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
			for var in gitVersion=$v gitMajor=1 gitMinor=37 gitTreeState=clean; do
				flags+=" -X $p.$var"
			done
		done
		;;
	esac
	echo "$flags"
}

# mkscratch makes $scratch, the build cache of the big tools, once per run;
# it is removed when the script exits.
scratch=""
mkscratch() {
	[ -n "$scratch" ] && return 0
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/cutover-tools-gocache.XXXXXX")
	trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
}

# key prints the cache key of a tool: a hash of its module files + recipe.
key() {
	local dir=$root/tools/$1
	{
		echo "$recipe"
		# Only extra flags enter the key: the others' keys stay as they were.
		[ "$(ldflags "$1")" = "-s -w" ] || ldflags "$1"
		for f in "$dir"/go.mod "$dir"/go.sum "$dir"/*.go; do
			echo "== ${f##*/}"
			cat "$f"
		done
	} | sha256sum | cut -c1-16
}

# install links the cached binary $2 into bin/$1 atomically, with a stamp.
install() {
	local name=$1 src=$2 hash=$3
	mkdir -p "$root/bin"
	ln -f "$src" "$root/bin/.$name.tmp" 2>/dev/null || cp "$src" "$root/bin/.$name.tmp"
	mv -f "$root/bin/.$name.tmp" "$root/bin/$name"
	echo "$hash" >"$root/bin/.$name.stamp"
}

# build compiles a tool into the cache; the go command's output is shown.
build() {
	local name=$1 out=$2 dir=$root/tools/$1 p
	p=$(pkg "$name")
	local env=(GOWORK=off CGO_ENABLED=0)
	# Its checksum is missing from the sum DB; go.sum carries it.
	[ "$name" = vault ] && env+=(GONOSUMDB=github.com/hashicorp/vault-plugin-secrets-gcp)
	case $name in
	etcd | kube-*) mkscratch && env+=(GOCACHE="$scratch") ;;
	esac
	(cd "$dir" && env "${env[@]}" go build -trimpath -ldflags="$(ldflags "$name")" -o "$out.tmp" "$p") || return 1
	mv -f "$out.tmp" "$out"
}

# one brings bin/<name> up to date and prints what it did.
one() {
	local name=$1 hash start=$SECONDS
	pkg "$name" >/dev/null || { echo "tools: unknown tool '$name'" >&2; return 1; }
	hash=$(key "$name")
	local cached=$cache/$name-$hash
	if [ -x "$root/bin/$name" ] && [ "$(cat "$root/bin/.$name.stamp" 2>/dev/null)" = "$hash" ]; then
		echo "tools: $name up to date (bin/$name, 0s)"
		return 0
	fi
	mkdir -p "$cache"
	exec 9>"$cache/.$name.lock"
	command -v flock >/dev/null && flock 9
	local what=cached
	if [ ! -x "$cached" ]; then
		what=built
		echo "tools: building $name (key $hash)..."
		if ! build "$name" "$cached"; then
			exec 9>&-
			echo "tools: FAILED to build $name (see the go output above)" >&2
			return 1
		fi
	fi
	install "$name" "$cached" "$hash"
	exec 9>&-
	echo "tools: $name $what in $((SECONDS - start))s (bin/$name)"
}

main() {
	command -v go >/dev/null || { echo "tools: go is not on PATH" >&2; exit 1; }
	local names=("$@")
	[ ${#names[@]} -gt 0 ] || names=(minio mc kes kes-v0.23 local-kms vault etcd kube-apiserver kube-controller-manager)
	for name in "${names[@]}"; do
		one "$name" || exit 1
	done
}

main "$@"
