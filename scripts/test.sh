#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds twice (plain, and
# with AddressSanitizer and UndefinedBehaviorSanitizer) with warnings as
# errors, runs every CTest test in both, runs the benchmarks once (their
# tables go to out/), then runs the fuzz targets for a bounded time in a
# clang build.
#
# Options: --no-asan, --no-bench, --no-fuzz, or ctest arguments after "--"
# (for example "-- -R router").
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

asan=1 bench=1 fuzz=1
ctest_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--no-asan) asan=0 ;;
	--no-bench) bench=0 ;;
	--no-fuzz) fuzz=0 ;;
	--) shift; ctest_args=("$@"); break ;;
	*) echo "usage: $0 [--no-asan] [--no-bench] [--no-fuzz] [-- CTEST-ARGS]" >&2; exit 2 ;;
	esac
	shift
done

bash scripts/install-deps.sh
jobs=$(nproc)
status=0

run_suite() {
	local dir=$1; shift
	echo "=== $dir: configure and build"
	cmake -S . -B "$dir" -DHSMUX_WERROR=ON "$@" >"$dir.configure.log" 2>&1 ||
		{ cat "$dir.configure.log"; return 1; }
	cmake --build "$dir" -j"$jobs"
	echo "=== $dir: ctest"
	(cd "$dir" && ctest --output-on-failure -j"$jobs" "${ctest_args[@]}")
}

mkdir -p out
run_suite out/build || status=1

# The benchmarks assert no speed: they print the ratios that the README
# reports, and fail only if a benchmark cannot run.
if [ "$bench" = 1 ]; then
	echo "=== benchmarks: hsmux over SoftHSM against SoftHSM direct (throughput, callgrind)"
	bench/run.sh out/build --out out/bench-results.md --overhead -- --rounds 15 || status=1
	echo "=== benchmarks: the tpm backend against tpm2-pkcs11 over swtpm"
	bench/tpm_bench.sh out/build 8 0.3 | tee out/tpm-bench-results.md || status=1
fi

if [ "$asan" = 1 ]; then
	# Leaks in SoftHSM's own start-up are not ours; every other leak fails the test.
	export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
	run_suite out/build-asan -DHSMUX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug || status=1
	unset LSAN_OPTIONS UBSAN_OPTIONS ASAN_OPTIONS
fi

if [ "$fuzz" = 1 ] && [ -f fuzz/CMakeLists.txt ]; then
	echo "=== out/build-fuzz: libFuzzer targets, bounded time"
	CC=clang cmake -S . -B out/build-fuzz -DHSMUX_FUZZ=ON -DHSMUX_TPM=OFF \
		-DCMAKE_BUILD_TYPE=Debug >out/build-fuzz.configure.log 2>&1 ||
		{ cat out/build-fuzz.configure.log; status=1; }
	if [ "$status" = 0 ] || [ -f out/build-fuzz/Makefile ]; then
		cmake --build out/build-fuzz -j"$jobs" &&
			(cd out/build-fuzz && ctest --output-on-failure -R '^fuzz_') || status=1
	fi
fi

if [ "$status" = 0 ]; then
	echo "hsmux: all test suites passed"
else
	echo "hsmux: some tests failed; see the output above" >&2
fi
exit "$status"
