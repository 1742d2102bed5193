# Shared set-up for the client integration tests, sourced by each test_*.sh.
#
# A test runs one real PKCS#11 client against the module given as $1 or in
# HSMUX_TEST_MODULE: SoftHSM direct (the baseline) or libhsmux.so over SoftHSM.
# Each run gets its own temporary directory, SoftHSM token store, config and
# token, and removes them on exit (keep them with HSMUX_TEST_KEEP=1).

set -euo pipefail

SO_PIN=87654321
USER_PIN=123456

log() { printf '== %s\n' "$*"; }

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# Run a command and fail with its output when it exits non-zero.
run() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		printf '%s\n' "$out" >&2
		fail "'$*' exited with $rc"
	fi
	printf '%s\n' "$out"
}

assert_contains() {
	local text=$1 needle=$2 what=$3
	case "$text" in
	*"$needle"*) ;;
	*) printf '%s\n' "$text" >&2; fail "$what: output lacks '$needle'" ;;
	esac
}

assert_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || fail "$tool is not installed; run scripts/quickstart.sh to install the packages"
	done
}

cleanup() {
	local rc=$?
	if [ -n "${HSMUX_TEST_KEEP:-}" ]; then
		echo "kept $TEST_DIR"
	else
		rm -rf -- "$TEST_DIR"
	fi
	exit "$rc"
}

# Point the module under test at a fresh token store in $TEST_DIR.
# SoftHSM direct reads SOFTHSM2_CONF. hsmux reads HSMUX_CONF and writes
# SoftHSM's config itself, so SOFTHSM2_CONF stays unset for it.
setup_store() {
	case "$(basename "$MODULE")" in
	libhsmux*)
		MODULE_KIND=hsmux
		unset SOFTHSM2_CONF
		export HSMUX_CONF=$TEST_DIR/hsmux.conf
		printf '[backend:soft]\ntype = softhsm\nstore = %s/store\n' "$TEST_DIR" \
			>"$HSMUX_CONF"
		;;
	*)
		MODULE_KIND=softhsm
		unset HSMUX_CONF
		mkdir -p "$TEST_DIR/store"
		export SOFTHSM2_CONF=$TEST_DIR/softhsm2.conf
		printf 'directories.tokendir = %s/store\nobjectstore.backend = file\n' \
			"$TEST_DIR" >"$SOFTHSM2_CONF"
		printf 'log.level = ERROR\n' >>"$SOFTHSM2_CONF"
		;;
	esac
}

# Usage: client_test_init "$@"   (at the top of each test script)
client_test_init() {
	MODULE=${1:-${HSMUX_TEST_MODULE:-}}
	[ -n "$MODULE" ] || fail "no module given; pass its path as \$1 or in HSMUX_TEST_MODULE"
	[ -r "$MODULE" ] || fail "module $MODULE is not readable; build it first"
	MODULE=$(realpath "$MODULE")
	need pkcs11-tool openssl xxd

	TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hsmux-client.XXXXXX")
	trap cleanup EXIT
	cd "$TEST_DIR"
	setup_store
	log "module $MODULE ($MODULE_KIND), work dir $TEST_DIR"
}

# pkcs11-tool on the module under test. --token-label matches by prefix,
# so every test token label must not be a prefix of another.
p11tool_run() {
	run pkcs11-tool --module "$MODULE" "$@"
}

# Initialize a token with SO and user PINs through the module under test.
token_init() {
	local label=$1 out

	out=$(p11tool_run --init-token --label "$label" --so-pin "$SO_PIN")
	assert_contains "$out" "Token successfully initialized" "init-token $label"
	out=$(p11tool_run --token-label "$label" --login --login-type so \
		--so-pin "$SO_PIN" --init-pin --pin "$USER_PIN")
	assert_contains "$out" "User PIN successfully initialized" "init-pin $label"

	# The token must live in the store that HSMUX_CONF names, not elsewhere.
	if [ "$MODULE_KIND" = hsmux ] && [ -z "$(ls -A "$TEST_DIR/store" 2>/dev/null)" ]; then
		fail "hsmux made no token store in $TEST_DIR/store as $HSMUX_CONF asks"
	fi
}

# Generate a key pair on token $1: keypair_gen TOKEN KEY_TYPE LABEL ID
keypair_gen() {
	local out
	out=$(p11tool_run --token-label "$1" --login --pin "$USER_PIN" --keypairgen \
		--key-type "$2" --label "$3" --id "$4" --usage-sign)
	assert_contains "$out" "Key pair generated" "keypairgen $2"
}

# Print a DER TLV in hex: der_tlv TAG_HEX CONTENT_HEX
der_tlv() {
	local n=$((${#2} / 2))
	if [ "$n" -lt 128 ]; then
		printf '%s%02x%s' "$1" "$n" "$2"
	elif [ "$n" -lt 256 ]; then
		printf '%s81%02x%s' "$1" "$n" "$2"
	else
		printf '%s82%04x%s' "$1" "$n" "$2"
	fi
}

# Print one hex attribute (EC_POINT or EC_PARAMS) of the public key with label $2.
pubkey_attr_hex() {
	local token=$1 label=$2 attr=$3
	pkcs11-tool --module "$MODULE" --token-label "$token" --list-objects --type pubkey \
		2>/dev/null | awk -v want="$label" -v attr="$attr:" '
		/^[A-Z].*Object;/ { value = "" }
		$1 == attr { value = $2 }
		$1 == "label:" && $2 == want { print value; exit }'
}

# Write the public key with label $2 as PEM to $3. pkcs11-tool 0.23 exports
# RSA keys, but fails to export P-384 and Ed25519 keys. So for EC and EdDSA
# keys the SubjectPublicKeyInfo is built here from CKA_EC_POINT and
# CKA_EC_PARAMS, and openssl parses (so checks) it.
pubkey_export() {
	local token=$1 label=$2 pem=$3 point params alg

	point=$(pubkey_attr_hex "$token" "$label" EC_POINT)
	if [ -z "$point" ]; then
		p11tool_run --token-label "$token" --read-object --type pubkey \
			--label "$label" -o "$pem.der" >/dev/null
		run openssl pkey -pubin -inform DER -in "$pem.der" -out "$pem" >/dev/null
		return
	fi
	params=$(pubkey_attr_hex "$token" "$label" EC_PARAMS)

	# SoftHSM wraps CKA_EC_POINT in a DER OCTET STRING, which SPKI does not use.
	if [ "${point:0:2}" = 04 ] && [ $((16#${point:2:2})) -eq $((${#point} / 2 - 2)) ]; then
		point=${point:4}
	fi
	case "$params" in
	06032b6570 | 130c656477617264733235353139) alg=$(der_tlv 30 06032b6570) ;;
	*) alg=$(der_tlv 30 "06072a8648ce3d0201$params") ;;
	esac
	der_tlv 30 "$alg$(der_tlv 03 "00$point")" | xxd -r -p >"$pem.der"
	run openssl pkey -pubin -inform DER -in "$pem.der" -out "$pem" >/dev/null
}
