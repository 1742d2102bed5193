#!/bin/bash
# Config errors of the tpm backend, as C_Initialize reports them through
# libhsmux.so: each message names the file, the line and the fix.
# Usage: test_tpm_config.sh MODULE
set -euo pipefail

MODULE=$1
DIR=$(mktemp -d /tmp/hsmux-tpm-config-XXXXXX)
trap 'rm -rf -- "$DIR"' EXIT
export HSMUX_CONF=$DIR/hsmux.conf

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# expect_error CONFIG_TEXT NEEDLE...: C_Initialize fails and stderr contains every needle.
expect_error() {
	local text=$1 out
	shift
	printf '%b' "$text" >"$HSMUX_CONF"
	if out=$(pkcs11-tool --module "$MODULE" --list-slots 2>&1); then
		fail "C_Initialize accepted: $text"
	fi
	for needle in "$@"; do
		case "$out" in
		*"$needle"*) ;;
		*) printf '%s\n' "$out" >&2; fail "message lacks '$needle'" ;;
		esac
	done
	echo "rejected as expected: $*"
}

expect_error "[backend:a]\ntype = tpm\ntcti = libtpms:$DIR/a\n[backend:b]\ntype = tpm\ntcti = libtpms:$DIR/b\n" \
	"hsmux.conf:6" "one TPM per process"
expect_error "[backend:a]\ntype = tpm\n" "hsmux.conf:" "[backend:a]" "no tcti" "tcti = libtpms:"
expect_error "[backend:a]\ntype = tpm\ntcti = mssim:port=1\n" "hsmux.conf:3" "not supported"
expect_error "[backend:a]\ntype = tpm\ntcti = libtpms:relative\n" "hsmux.conf:3" "absolute"
expect_error "[backend:a]\ntype = tpm\ntcti = libtpms:$DIR/a\nda_max_tries = many\n" \
	"hsmux.conf:4" "not a whole number"
