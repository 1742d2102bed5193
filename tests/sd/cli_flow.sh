#!/bin/bash
# The security-domain flow through the hsmux tool and libhsmux.so, with the
# tool's messages for the refusals. Usage: cli_flow.sh HSMUX_TOOL LIBHSMUX [softhsm|tpm]
set -u
tool=$1
module=$2
backend=${3:-softhsm}
work=$(mktemp -d "${TMPDIR:-/tmp}/hsmux-sd-cli-XXXXXX")
export HSMUX_MODULE=$module HSMUX_PIN=userpin1 HSMUX_SO_PIN=sopin123
unset SOFTHSM2_CONF
passed=0
failed=0

# pkcs11-tool is not built with the sanitizers; an ASan module needs their runtime preloaded.
asan=$(ldd "$module" | awk '/libasan/ { print $3 }')
pkcs11_tool() { # pkcs11_tool STORE ARGS...
	local conf="$work/$1.conf"
	shift
	if [ -n "$asan" ]; then
		HSMUX_CONF=$conf LD_PRELOAD=$asan ASAN_OPTIONS=detect_leaks=0 pkcs11-tool "$@"
	else
		HSMUX_CONF=$conf pkcs11-tool "$@"
	fi
}

check() { # check NAME COMMAND...: counts a pass when the command succeeds
	local name=$1
	shift
	if "$@" >"$work/out" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAILED: $name"
		sed 's/^/    /' "$work/out"
	fi
}

conf() { # conf NAME: a config with its own SoftHSM store, or its own libtpms TPM
	if [ "$backend" = tpm ]; then
		printf '[backend:tpm]\ntype = tpm\ntcti = libtpms:%s/%s\n' "$work" "$1" >"$work/$1.conf"
	else
		printf '[backend:soft]\ntype = softhsm\nstore = %s/%s\n' "$work" "$1" >"$work/$1.conf"
	fi
	echo "$work/$1.conf"
}

hsm() { # hsm STORE ARGS...
	local store=$1
	shift
	HSMUX_CONF="$work/$store.conf" "$tool" "$@"
}

fails_with() { # fails_with TEXT COMMAND...: the command fails and prints TEXT
	local text=$1
	shift
	! "$@" >"$work/fail.out" 2>&1 && grep -q -- "$text" "$work/fail.out"
}

for i in 1 2 3 4; do
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/c$i.key" 2>/dev/null
	openssl pkey -in "$work/c$i.key" -pubout -out "$work/c$i.pub"
done
conf a >/dev/null
conf b >/dev/null

check "token A" hsm a token init --label A
check "backup refused before activation" fails_with "hsmux sd download" \
	hsm a backup --token A --out "$work/early.bk"
check "sd download" hsm a sd download --token A --custodian "$work/c1.pub" \
	--custodian "$work/c2.pub" --custodian "$work/c3.pub" --quorum 2 --out "$work/sd.json"
check "data object on A" pkcs11_tool a --module "$module" \
	--token-label A --login --pin userpin1 \
	--write-object "$work/c1.pub" --type data --label before
check "backup" hsm a backup --token A --out "$work/a.bk"
check "backup inspect" bash -c "'$tool' backup inspect '$work/a.bk' | grep -q sd_fingerprint"

check "token B" hsm b token init --label B
check "sd init-recovery" hsm b sd init-recovery --token B --out "$work/exchange.pem"
check "recover with one key fails" fails_with "only 1 valid share of the 2 needed" \
	"$tool" sd recover --sd "$work/sd.json" --custodian-key "$work/c2.key" \
	--exchange "$work/exchange.pem" --out "$work/upload1.json"
check "recover names a foreign key" fails_with "c4.key' .* is not a custodian" \
	"$tool" sd recover --sd "$work/sd.json" --custodian-key "$work/c4.key" \
	--custodian-key "$work/c2.key" --exchange "$work/exchange.pem" --out "$work/u.json"
check "no upload.json after a failed recover" test ! -e "$work/upload1.json"
check "sd recover" "$tool" sd recover --sd "$work/sd.json" --custodian-key "$work/c1.key" \
	--custodian-key "$work/c3.key" --exchange "$work/exchange.pem" --out "$work/upload.json"
check "sd upload" hsm b sd upload --token B --in "$work/upload.json"
cp "$work/a.bk" "$work/bad.bk"
# Byte 900 is inverted, so the copy always differs from the backup.
byte=$(od -An -tu1 -j 900 -N1 "$work/a.bk" | tr -d ' ')
printf "\\$(printf '%03o' $((byte ^ 255)))" |
	dd of="$work/bad.bk" bs=1 seek=900 conv=notrunc 2>/dev/null
check "backup copy changed" test "$(cmp -s "$work/a.bk" "$work/bad.bk"; echo $?)" = 1
check "changed backup refused" fails_with "is refused and token 'B' is unchanged" \
	hsm b restore --token B --in "$work/bad.bk"
check "second activation refused" fails_with "already has security domain" \
	hsm b sd download --token B --custodian "$work/c1.pub" --custodian "$work/c2.pub" \
	--custodian "$work/c3.pub" --quorum 2 --out "$work/sd-b.json"
check "restore" hsm b restore --token B --in "$work/a.bk"
check "restored token is A" bash -c "HSMUX_CONF='$work/b.conf' '$tool' token list | grep -q \"'A'\""

echo "$passed passed, $failed failed"
if [ "$failed" -eq 0 ]; then
	rm -rf "$work"
	exit 0
fi
echo "kept $work"
exit 1
