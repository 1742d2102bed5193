#!/bin/sh
# Compare hsmux over SoftHSM (A) with SoftHSM direct (B) on a fresh token,
# in one process, and write the tables with the machine, the date and the
# exact command. Builds nothing.
#
# usage: bench/run.sh [BUILD_DIR] [--out FILE] [--overhead] [-- HSMUX_BENCH_OPTIONS...]
#
# BUILD_DIR defaults to ./build. The default run is 60 rounds of 0.1 s per
# module, operation and thread count, about 2 minutes. Options after -- go
# to hsmux-bench, for example -- --rounds 10 --ops ecdsa-p256,rsa2048.
# --overhead appends bench/overhead.sh's callgrind table (about 2 minutes
# more). HSMUX_MODULE overrides the path of libhsmux.so.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
command_line="bench/run.sh $*"
build=build
out=bench-results.md
overhead=no
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--overhead) overhead=yes; shift ;;
	--) shift; break ;;
	-*) echo "$0: unknown option $1; bench options go after --" >&2; exit 2 ;;
	*) build=$1; shift ;;
	esac
done

bench=$build/bench/hsmux-bench
hsmux=${HSMUX_MODULE:-$build/module/libhsmux.so}
softhsm=${HSMUX_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
if [ ! -e "$hsmux" ]; then
	echo "$0: $hsmux not found; build the hsmux target or set HSMUX_MODULE" >&2
	exit 1
fi

dir=$(mktemp -d /tmp/hsmux-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$here/setup.sh" "$bench" "$dir" >/dev/null
export SOFTHSM2_CONF="$dir/softhsm2.conf" HSMUX_CONF="$dir/hsmux.conf"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "Machine: $(nproc) CPUs, $cpu; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "Commit: $commit"
	echo "Command: $command_line"
	echo
	"$bench" --a "$hsmux" --b "$softhsm" --duration 0.1 --rounds 60 --threads 1,2 "$@"
	if [ "$overhead" = yes ]; then
		echo
		HSMUX_MODULE=$hsmux "$here/overhead.sh" "$build"
	fi
} | tee "$out"
