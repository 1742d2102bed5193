#!/bin/sh
# Count the instructions that a PKCS#11 layer adds to each operation, with
# callgrind, for hsmux over SoftHSM and for p11-kit's proxy over SoftHSM,
# both against SoftHSM direct. Builds nothing.
#
# usage: bench/overhead.sh [BUILD_DIR] [--iterations N] [--ops LIST] [--keep DIR]
#
# BUILD_DIR defaults to ./build; it must hold bench/hsmux-bench and, for the
# hsmux row, module/libhsmux.so (HSMUX_MODULE overrides the path). Needs
# valgrind and python3. p11-kit reads a per-user module config only for a
# user other than root, so as root its run drops to the user nobody.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=build
iterations=200
ops=session-info,ecdsa-p256,rsa2048,aes-gcm-4k,sha256-4k
keep=
while [ $# -gt 0 ]; do
	case $1 in
	--iterations) iterations=$2; shift 2 ;;
	--ops) ops=$2; shift 2 ;;
	--keep) keep=$2; shift 2 ;;
	-*) echo "$0: unknown option $1" >&2; exit 2 ;;
	*) build=$1; shift ;;
	esac
done

bench=$build/bench/hsmux-bench
hsmux=${HSMUX_MODULE:-$build/module/libhsmux.so}
softhsm=${HSMUX_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
proxy=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so
for tool in valgrind python3; do
	if ! command -v $tool >/dev/null; then
		echo "$0: $tool not found; install the Debian package $tool" >&2
		exit 1
	fi
done

dir=$(mktemp -d /tmp/hsmux-overhead.XXXXXX)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
"$here/setup.sh" "$bench" "$dir" >/dev/null
# A private copy, so that the user nobody can run it wherever the build is.
cp "$bench" "$dir/hsmux-bench"

modules=
breakdown=
if [ -e "$hsmux" ]; then
	modules=hsmux
	breakdown="--breakdown $(basename "$hsmux")"
else
	echo "note: $hsmux not found; measuring p11-kit only" >&2
fi
modules=${modules:+$modules,}p11-kit

# count LABEL MODULE OP [RUNNER...]: one callgrind profile, $dir/cg.LABEL.OP
count() {
	label=$1 module=$2 op=$3
	shift 3
	symbol=bench_op_$(echo "$op" | tr - _)
	if ! "$@" env SOFTHSM2_CONF="$dir/softhsm2.conf" HSMUX_CONF="$dir/hsmux.conf" \
		HOME="$dir/home" valgrind --tool=callgrind --toggle-collect="$symbol" \
		--compress-strings=no --compress-pos=no \
		--callgrind-out-file="$dir/cg.$label.$op" \
		"$dir/hsmux-bench" --a "$module" --count "$op" \
		--iterations "$iterations" >"$dir/log.$label.$op" 2>&1; then
		echo "$0: callgrind run of $op on $label failed:" >&2
		cat "$dir/log.$label.$op" >&2
		exit 1
	fi
	grep "^hsmux-bench:" "$dir/log.$label.$op" >&2 || true
}

as_proxy_user=
if [ "$(id -u)" = 0 ]; then
	as_proxy_user="setpriv --reuid=nobody --regid=nogroup --clear-groups"
fi

for op in $(echo "$ops" | tr , ' '); do
	count softhsm "$softhsm" "$op"
	if [ -e "$hsmux" ]; then
		count hsmux "$hsmux" "$op"
	fi
	if [ -n "$as_proxy_user" ]; then
		chown -R nobody:nogroup "$dir"
	fi
	count p11-kit "$proxy" "$op" $as_proxy_user
done

echo "Instructions per operation ($iterations iterations after 20 untimed; callgrind)."
echo "Layer cost: instructions outside SoftHSM minus those of SoftHSM direct."
echo
# shellcheck disable=SC2086 # $breakdown is two words or none
python3 "$here/overhead_table.py" --dir "$dir" --iterations "$iterations" \
	--modules "$modules" --ops "$ops" $breakdown
if [ -n "$keep" ]; then
	mkdir -p "$keep"
	cp "$dir"/cg.* "$keep"/
fi
