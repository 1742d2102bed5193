#!/bin/sh
# bench_smoke: runs hsmux-bench for a fraction of a second on a fresh token
# and checks that the output parses and that every ratio is a positive
# number. It asserts no speed.
#
# usage: bench/smoke.sh HSMUX_BENCH MODULE_A MODULE_B
set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 HSMUX_BENCH MODULE_A MODULE_B" >&2
	exit 2
fi
bench=$1
module_a=$2
module_b=$3
here=$(cd "$(dirname "$0")" && pwd)
ops="session-info ecdsa-p256 rsa2048 aes-gcm-4k sha256-4k"

dir=$(mktemp -d /tmp/hsmux-bench-smoke.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$here/setup.sh" "$bench" "$dir"
export SOFTHSM2_CONF="$dir/softhsm2.conf" HSMUX_CONF="$dir/hsmux.conf"

"$bench" --a "$module_a" --b "$module_b" --duration 0.02 --rounds 2 --threads 1,2 \
	>"$dir/out.md"
cat "$dir/out.md"

# check_table FIRST_HEADER_CELL ROWS COLUMN: the tables whose header starts
# with that cell have ROWS rows in all, and in each row the ratio in cell
# COLUMN (counted from 1) is a positive number.
check_table() {
	awk -F'|' -v header="$1" -v rows="$2" -v column="$3" '
		function trim(s) { gsub(/^ +| +$/, "", s); return s }
		/^\|/ && trim($2) == header { in_table = 1; next }
		in_table && /^\| ---/ { next }
		in_table && /^\|/ {
			n++
			ratio = trim($(column + 1))
			if (ratio !~ /^[0-9]+\.[0-9]+$/ || ratio + 0 <= 0) {
				printf "bad ratio \"%s\" in row: %s\n", ratio, $0
				bad = 1
			}
			next
		}
		in_table { in_table = 0 }
		END {
			if (n != rows) {
				printf "table \"%s\": %d rows, expected %d\n", header, n, rows
				bad = 1
			}
			exit bad
		}' "$dir/out.md"
}

failed=0
check_table operation 15 5 || failed=1
check_table goal 11 4 || failed=1

for op in $ops; do
	if ! "$bench" --a "$module_a" --count "$op" --iterations 3 --warmup 1 \
		>"$dir/count.txt"; then
		echo "--count $op failed"
		failed=1
	elif ! grep -q "^counted $op: 3 iterations" "$dir/count.txt"; then
		echo "--count $op printed: $(cat "$dir/count.txt")"
		failed=1
	fi
done

if [ $failed -ne 0 ]; then
	echo "bench_smoke: FAILED"
	exit 1
fi
echo "bench_smoke: output parsed; every ratio is positive"
