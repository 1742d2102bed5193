#!/bin/bash
# Compare RSA-2048 and ECDSA P-256 signing on the tpm backend (libhsmux.so
# with the TPM in-process through libtpms) against tpm2-pkcs11 over swtpm on
# 127.0.0.1, in one tpm-bench process, and report whether hsmux reaches
# the goal of 5x tpm2-pkcs11's throughput. Both TPMs are libtpms 0.9.
#
# usage: bench/tpm_bench.sh [BUILD_DIR] [ROUNDS [SECONDS]]
#
# BUILD_DIR defaults to ./build and must hold tests/tpm/tpm-bench and
# module/libhsmux.so. The default is 10 rounds of 0.3 s per module and
# operation, about 15 seconds. Needs swtpm and tpm2-pkcs11 (Debian packages
# swtpm and libtpm2-pkcs11-1). The two token PINs are fixed: the tokens
# are temporary and hold no secrets.
set -euo pipefail
command -v tpm2_flushcontext >/dev/null || { echo "$0: install tpm2-tools" >&2; exit 1; }

build=${1:-build}
rounds=${2:-10}
seconds=${3:-0.3}
bench=$build/tests/tpm/tpm-bench
hsmux=${HSMUX_MODULE:-$build/module/libhsmux.so}
tpm2=${TPM2_PKCS11_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}
for f in "$bench" "$hsmux"; do
	[ -e "$f" ] || { echo "$0: $f not found; build the hsmux and tpm-bench targets" >&2; exit 1; }
done
[ -e "$tpm2" ] || { echo "$0: $tpm2 not found; install libtpm2-pkcs11-1" >&2; exit 1; }
command -v swtpm >/dev/null || { echo "$0: swtpm not found; install swtpm" >&2; exit 1; }

dir=$(mktemp -d /tmp/hsmux-tpm-bench.XXXXXX)
stop() {
	[ -s "$dir/swtpm.pid" ] && kill "$(cat "$dir/swtpm.pid")" 2>/dev/null
	rm -rf -- "$dir"
}
trap stop EXIT

# Two consecutive free ports on 127.0.0.1, for swtpm's server and control channel.
port=$(/usr/bin/python3 -c '
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); continue
    a.close(); b.close(); print(p); break')
mkdir -p "$dir/swtpm" "$dir/tpm2-store"
swtpm socket --tpm2 --tpmstate dir="$dir/swtpm" --pid file="$dir/swtpm.pid" --daemon \
	--server type=tcp,port="$port",bindaddr=127.0.0.1 \
	--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear
for _ in $(seq 50); do
	[ -s "$dir/swtpm.pid" ] && break
	sleep 0.1
done

export TPM2_PKCS11_STORE=$dir/tpm2-store
export TPM2_PKCS11_TCTI="swtpm:host=127.0.0.1,port=$port"
export HSMUX_CONF=$dir/hsmux.conf
printf '[backend:tpm]\ntype = tpm\ntcti = libtpms:%s/libtpms\n' "$dir" >"$HSMUX_CONF"
# Silence the warnings that tss2 and tpm2-pkcs11 log for TPM error responses.
export TSS2_LOG=all+none TPM2_PKCS11_LOG_LEVEL=0

# swtpm has no resource manager: objects that one tpm2-pkcs11 process leaves
# loaded stay, and fill the TPM's slots. Flush them after each set-up step.
flush_swtpm() {
	tpm2_flushcontext -T "$TPM2_PKCS11_TCTI" -t >/dev/null 2>&1 || true
	tpm2_flushcontext -T "$TPM2_PKCS11_TCTI" -l >/dev/null 2>&1 || true
}
for module in "$hsmux" "$tpm2"; do
	pkcs11-tool --module "$module" --init-token --label bench --so-pin 12345678 >/dev/null
	flush_swtpm
	pkcs11-tool --module "$module" --token-label bench --login --login-type so \
		--so-pin 12345678 --init-pin --pin 1234 >/dev/null 2>&1
	flush_swtpm
	for key in rsa:2048:rsa2048 EC:prime256v1:ec256; do
		pkcs11-tool --module "$module" --token-label bench --login --pin 1234 --keypairgen \
			--key-type "${key%:*}" --label "${key##*:}" --usage-sign >/dev/null 2>&1
		flush_swtpm
	done
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) CPUs, $cpu; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Commit: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "A: $hsmux (tpm backend, libtpms in-process)"
echo "B: $tpm2 (tpm2-pkcs11 over swtpm on 127.0.0.1:$port)"
echo
"$bench" "$hsmux" "$tpm2" "$rounds" "$seconds"
