#!/bin/bash
# End-to-end BYOK tests of `hsmux byok` through libhsmux.so over SoftHSM.
#
# Usage: byok_cli.sh HSMUX MODULE CASE
#   kat_rsa, kat_ec, kat_ed25519, kat_aes: known-answer tests against an
#     independent tool. Each key is wrapped with the openssl command line only (pkeyutl
#     RSA-OAEP and enc -id-aes256-wrap-pad), the .byok JSON is built with
#     shell tools, the key is imported with `hsmux byok import`, used in the
#     token through pkcs11-tool, and the result is verified by openssl
#     against the original key.
#   roundtrip: `hsmux byok wrap`, then import, then the same checks.
#   bad_input: every kind of bad input gets its message and leaves no object.
set -euo pipefail

HSMUX=$1
MODULE=$2
CASE=$3

T=$(mktemp -d /tmp/byok_cli.XXXXXX)
trap '[ -n "${BYOK_KEEP:-}" ] || rm -rf "$T"' EXIT
unset SOFTHSM2_CONF HSMUX_DEBUG HSMUX_DEBUG_FILE
export HOME=$T XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
export HSMUX_CONF=$T/hsmux.conf HSMUX_PIN=1234 HSMUX_SO_PIN=so-pin-1234
mkdir "$T/store"
printf '[backend:soft]\ntype = softhsm\nstore = %s\n' "$T/store" >"$HSMUX_CONF"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

h() {
	"$HSMUX" --module "$MODULE" "$@"
}

# pkcs11-tool loads a sanitized module only with the sanitizer runtimes
# preloaded; its own leaks are not ours.
P11_PRELOAD=$(ldd "$MODULE" | sed -n 's/.*=> \(\S*lib[a-z]*san\.so\S*\).*/\1/p' | paste -sd:)

p11() {
	LD_PRELOAD=$P11_PRELOAD ASAN_OPTIONS=detect_leaks=0 \
		pkcs11-tool --module "$MODULE" --token-label byok --login --pin 1234 "$@" \
		2>/dev/null
}

# Keys are named by CKA_ID in pkcs11-tool, because its --label picks the
# wrong secret key when several exist (OpenSC 0.23).
key_id() {
	printf '%s' "$1" | sha1sum | cut -c1-16
}

count_objects() {
	p11 -O | grep -c 'Object;' || true
}

h token init --label byok >/dev/null
h byok kek create --token byok --label kek --bits 3072 >"$T/kek.out"
KID=$(sed -n 's/^kid: //p' "$T/kek.out")
[ -n "$KID" ] || fail "kek create printed no kid"
h byok kek export --token byok --label kek --out "$T/kek.pem" >/dev/null
openssl pkey -pubin -in "$T/kek.pem" -noout || fail "kek export wrote no public key"
printf 'BYOK known-answer message\n' >"$T/msg"

# wrap_openssl PLAIN NAME: CKM_RSA_AES_KEY_WRAP of PLAIN with the openssl
# command line only; leaves NAME.rsa, NAME.kwp and NAME.byok in $T.
wrap_openssl() {
	local aes
	openssl rand -out "$T/$2.aes" 32
	aes=$(xxd -p -c 64 "$T/$2.aes")
	openssl pkeyutl -encrypt -pubin -inkey "$T/kek.pem" -in "$T/$2.aes" -out "$T/$2.rsa" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1
	openssl enc -id-aes256-wrap-pad -K "$aes" -iv A65959A6 -in "$1" -out "$T/$2.kwp"
	rm -f "$T/$2.aes"
	cat "$T/$2.rsa" "$T/$2.kwp" >"$T/$2.blob"
	byok_json "$KID" "$(basenc --base64url -w0 <"$T/$2.blob" | tr -d '=')" >"$T/$2.byok"
}

byok_json() {
	printf '{"schema_version":"1.0.0","header":{"kid":"%s","alg":"dir",' "$1"
	printf '"enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"%s","generator":"openssl"}\n' "$2"
}

# The public key object must be the original key's public key.
check_public_object() {
	p11 --read-object --type pubkey --id "$(key_id "$1")" -o "$T/$1.pub.der" >/dev/null ||
		fail "$1: no public key object"
	openssl pkey -pubin -inform DER -in "$T/$1.pub.der" -outform PEM >"$T/$1.token.pub"
	openssl pkey -in "$2" -pubout >"$T/$1.orig.pub"
	cmp -s "$T/$1.token.pub" "$T/$1.orig.pub" || fail "$1: public key object differs"
}

# The same for EC keys, from the listing: pkcs11-tool 0.23 cannot read
# P-384 and P-521 public key objects ("cannot create EVP_PKEY").
check_ec_point() {
	local point expected
	point=$(p11 -O --type pubkey | awk -v label="$1" '
		/^Public Key Object/ { point = "" }
		/EC_POINT:/ { point = $2 }
		$1 == "label:" && $2 == label && point != "" { print point; exit }')
	expected=$(openssl pkey -in "$2" -pubout -outform DER | tail -c "$3" | xxd -p -c 256)
	case "$point" in
	*"$expected") ;;
	*) fail "$1: public key object has EC_POINT '$point', expected '...$expected'" ;;
	esac
}

import_key() {
	local out
	out=$(h byok import --token byok --kek kek --in "$1" --label "$2" --id "$(key_id "$2")" \
		"${@:3}") ||
		fail "import of $1 as $2 failed"
	case "$out" in
	*"pkcs11:token=byok;object=$2;"*) ;;
	*) fail "import of $2 printed no URI: $out" ;;
	esac
}

check_rsa() {
	p11 --sign -m SHA256-RSA-PKCS --id "$(key_id "$1")" -i "$T/msg" -o "$T/$1.sig" >/dev/null
	openssl dgst -sha256 -verify <(openssl pkey -in "$2" -pubout) -signature "$T/$1.sig" \
		"$T/msg" >/dev/null || fail "$1: RSA signature does not verify"
	check_public_object "$1" "$2"
}

check_ec() {
	openssl dgst -sha256 -binary "$T/msg" >"$T/msg.sha256"
	p11 --sign -m ECDSA --signature-format openssl --id "$(key_id "$1")" -i "$T/msg.sha256" \
		-o "$T/$1.sig" >/dev/null
	openssl pkeyutl -verify -pubin -inkey <(openssl pkey -in "$2" -pubout) \
		-in "$T/msg.sha256" -sigfile "$T/$1.sig" >/dev/null ||
		fail "$1: ECDSA signature does not verify"
	check_ec_point "$1" "$2" "$3"
}

check_aes() {
	local bits=$(($(stat -c %s "$2") * 8))
	head -c 32 /dev/urandom >"$T/block"
	p11 --encrypt -m AES-ECB --id "$(key_id "$1")" -i "$T/block" -o "$T/$1.token.ct" >/dev/null
	openssl enc "-aes-$bits-ecb" -K "$(xxd -p -c 64 "$2")" -nopad -in "$T/block" \
		-out "$T/$1.openssl.ct"
	cmp -s "$T/$1.token.ct" "$T/$1.openssl.ct" || fail "$1: AES encryption differs"
}

pkcs8() {
	openssl pkcs8 -topk8 -nocrypt -in "$1" -outform DER -out "$2"
}

kat_rsa() {
	for bits in 2048 3072 4096; do
		openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" \
			-out "$T/rsa$bits.pem" 2>/dev/null
		pkcs8 "$T/rsa$bits.pem" "$T/rsa$bits.p8"
		wrap_openssl "$T/rsa$bits.p8" "rsa$bits"
		import_key "$T/rsa$bits.byok" "rsa$bits"
		check_rsa "rsa$bits" "$T/rsa$bits.pem"
	done
}

# The length of an uncompressed point on the curve.
point_len() {
	case "$1" in
	P-256 | secp256k1) echo 65 ;;
	P-384) echo 97 ;;
	P-521) echo 133 ;;
	esac
}

kat_ec() {
	for curve in P-256 P-384 P-521 secp256k1; do
		openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" \
			-out "$T/$curve.pem"
		pkcs8 "$T/$curve.pem" "$T/$curve.p8"
		wrap_openssl "$T/$curve.p8" "$curve"
		import_key "$T/$curve.byok" "ec-$curve"
		check_ec "ec-$curve" "$T/$curve.pem" "$(point_len "$curve")"
	done
}

# SoftHSM 2.6.1 cannot unwrap Ed25519 keys: then the import must fail
# cleanly. A backend that can gets the full known-answer check.
kat_ed25519() {
	local before err
	openssl genpkey -algorithm ed25519 -out "$T/ed.pem"
	openssl pkey -in "$T/ed.pem" -pubout -out "$T/ed.pub"
	pkcs8 "$T/ed.pem" "$T/ed.p8"
	wrap_openssl "$T/ed.p8" ed
	before=$(count_objects)
	if err=$(h byok import --token byok --kek kek --in "$T/ed.byok" --label ed \
		--id "$(key_id ed)" --pub "$T/ed.pub" 2>&1); then
		p11 --sign -m EDDSA --id "$(key_id ed)" -i "$T/msg" -o "$T/ed.sig" >/dev/null
		openssl pkeyutl -verify -pubin -inkey "$T/ed.pub" -rawin -in "$T/msg" \
			-sigfile "$T/ed.sig" >/dev/null || fail "Ed25519 signature does not verify"
		check_public_object ed "$T/ed.pem"
	else
		echo "note: the backend cannot unwrap Ed25519 keys: $err"
		case "$err" in
		*"cannot unwrap"*"Ed25519"*) ;;
		*) fail "Ed25519 import failed without a clear message: $err" ;;
		esac
		[ "$(count_objects)" = "$before" ] || fail "failed Ed25519 import left an object"
	fi
}

kat_aes() {
	for bytes in 16 24 32; do
		openssl rand -out "$T/aes$bytes.key" "$bytes"
		wrap_openssl "$T/aes$bytes.key" "aes$bytes"
		import_key "$T/aes$bytes.byok" "aes$bytes"
		check_aes "aes$bytes" "$T/aes$bytes.key"
	done
}

roundtrip() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rt-rsa.pem" \
		2>/dev/null
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/rt-ec.pem"
	openssl rand -out "$T/rt-aes.key" 32
	h byok wrap --kek-pub "$T/kek.pem" --key "$T/rt-rsa.pem" --kid "$KID" \
		--out "$T/rt-rsa.byok"
	h byok wrap --kek-pub "$T/kek.pem" --key "$T/rt-ec.pem" --out "$T/rt-ec.byok" \
		--pub-out "$T/rt-ec.pub"
	h byok wrap --kek-pub "$T/kek.pem" --key "$T/rt-aes.key" --aes --out "$T/rt-aes.byok"
	import_key "$T/rt-rsa.byok" rt-rsa
	import_key "$T/rt-ec.byok" rt-ec --pub "$T/rt-ec.pub"
	h --json byok import --token byok --kek kek --in "$T/rt-aes.byok" --label rt-aes \
		--id "$(key_id rt-aes)" >"$T/rt-aes.json" || fail "JSON import of rt-aes failed"
	/usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
assert d["label"] == "rt-aes", d
assert d["key_type"] == "AES", d
assert d["uri"].startswith("pkcs11:token=byok;object=rt-aes;id="), d' "$T/rt-aes.json" ||
		fail "import --json printed: $(cat "$T/rt-aes.json")"
	check_rsa rt-rsa "$T/rt-rsa.pem"
	check_ec rt-ec "$T/rt-ec.pem" 97
	check_aes rt-aes "$T/rt-aes.key"
}

# expect_error MESSAGE ARGS...: the import fails, prints MESSAGE and leaves no object.
expect_error() {
	local message=$1 before err
	shift
	before=$(count_objects)
	if err=$(h byok import --token byok "$@" 2>&1); then
		fail "import $* succeeded"
	fi
	case "$err" in
	*"$message"*) ;;
	*) fail "import $*: expected '$message' in: $err" ;;
	esac
	[ "$(count_objects)" = "$before" ] || fail "import $* left an object"
}

# edit_json NAME SED-SCRIPT: a variant of NAME.byok.
edit_json() {
	sed "$2" "$T/good.byok" >"$T/$1.byok"
}

bad_input() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/good.pem" 2>/dev/null
	pkcs8 "$T/good.pem" "$T/good.p8"
	wrap_openssl "$T/good.p8" good
	local ct
	ct=$(basenc --base64url -w0 <"$T/good.blob" | tr -d '=')
	local k=(--kek kek --label new)

	# The blob: tampered in the RSA part and in the wrap part, truncated, bad base64url.
	# Each byte is inverted, so the tampered blob always differs from the good one.
	for at in 100 700; do
		cp "$T/good.blob" "$T/tampered.blob"
		byte=$(od -An -tu1 -j "$at" -N1 "$T/good.blob" | tr -d ' ')
		printf "\\$(printf '%03o' $((byte ^ 255)))" |
			dd of="$T/tampered.blob" bs=1 seek="$at" conv=notrunc 2>/dev/null
		cmp -s "$T/good.blob" "$T/tampered.blob" && fail "blob not changed at byte $at"
		byok_json "$KID" "$(basenc --base64url -w0 <"$T/tampered.blob" | tr -d '=')" \
			>"$T/tampered.byok"
		expect_error "cannot unwrap" "${k[@]}" --in "$T/tampered.byok"
	done
	head -c -8 "$T/good.blob" >"$T/short.blob"
	byok_json "$KID" "$(basenc --base64url -w0 <"$T/short.blob" | tr -d '=')" >"$T/short.byok"
	expect_error "cannot unwrap" "${k[@]}" --in "$T/short.byok"
	head -c 300 "$T/good.blob" >"$T/short.blob"
	byok_json "$KID" "$(basenc --base64url -w0 <"$T/short.blob" | tr -d '=')" >"$T/short.byok"
	expect_error "truncated or damaged" "${k[@]}" --in "$T/short.byok"
	byok_json "$KID" "${ct:0:40}+/${ct:42}" >"$T/b64.byok"
	expect_error "not base64url" "${k[@]}" --in "$T/b64.byok"
	byok_json "$KID" "$ct=" >"$T/b64.byok"
	expect_error "not base64url" "${k[@]}" --in "$T/b64.byok"

	# The JSON: invalid, a member missing, an extra member, another enc.
	edit_json badjson 's/}$//'
	expect_error "invalid JSON" "${k[@]}" --in "$T/badjson.byok"
	edit_json missing 's/,"generator":"openssl"//'
	expect_error 'no "generator" member' "${k[@]}" --in "$T/missing.byok"
	edit_json extra 's/"generator"/"x5t":"abc","generator"/'
	expect_error 'unknown member "x5t"' "${k[@]}" --in "$T/extra.byok"
	edit_json enc 's/CKM_RSA_AES_KEY_WRAP/CKM_RSA_PKCS_OAEP/'
	expect_error 'member "enc"' "${k[@]}" --in "$T/enc.byok"

	# A kid that names another KEK.
	h byok kek create --token byok --label kek2 --bits 2048 >/dev/null
	expect_error "not for KEK 'kek2'" --kek kek2 --label new --in "$T/good.byok"

	# A KEK that is not import-only: it can also decrypt.
	p11 --keypairgen --key-type rsa:2048 --label loose --usage-decrypt >/dev/null ||
		fail "pkcs11-tool cannot make the key pair 'loose'"
	h byok kek export --token byok --label loose --out "$T/loose.pem" >/dev/null
	h byok wrap --kek-pub "$T/loose.pem" --key "$T/good.pem" --kid loose \
		--out "$T/loose.byok" >/dev/null
	expect_error "not an import-only KEK" --kek loose --label new --in "$T/loose.byok"

	# A target type that does not match the template.
	expect_error "as key type EC" "${k[@]}" --in "$T/good.byok" --type ec

	# A key that is too small, wrapped with the openssl command line.
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/small.pem" \
		2>/dev/null
	pkcs8 "$T/small.pem" "$T/small.p8"
	wrap_openssl "$T/small.p8" small
	expect_error "size that BYOK does not import" "${k[@]}" --in "$T/small.byok"
	if h byok wrap --kek-pub "$T/kek.pem" --key "$T/small.pem" --out "$T/x.byok" \
		2>"$T/err"; then
		fail "wrap accepted RSA-1024"
	fi
	grep -q "RSA-1024" "$T/err" || fail "wrap of RSA-1024: $(cat "$T/err")"

	# SoftHSM 2.6.1 does RSA-OAEP with SHA-1 only.
	h byok wrap --kek-pub "$T/kek.pem" --key "$T/good.pem" --oaep sha256 \
		--out "$T/sha256.byok" >/dev/null
	expect_error "cannot do RSA-OAEP with SHA-256" "${k[@]}" --in "$T/sha256.byok" \
		--oaep sha256

	# A label in use, and a KEK that does not exist.
	import_key "$T/good.byok" taken
	expect_error "already has a key labelled 'taken'" --kek kek --label taken \
		--in "$T/good.byok"
	expect_error "has no key-exchange key 'nokek'" --kek nokek --label new --in "$T/good.byok"
}

case "$CASE" in
kat_rsa | kat_ec | kat_ed25519 | kat_aes | roundtrip | bad_input) "$CASE" ;;
*) fail "unknown case '$CASE'" ;;
esac
echo "PASS: $CASE"
