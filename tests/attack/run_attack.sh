#!/bin/sh
# Runs hsmux-attack on a fresh token store that it deletes afterwards.
#   run_attack.sh softhsm ATTACK_BIN SOFTHSM_MODULE [hsmux-attack options]
#   run_attack.sh hsmux ATTACK_BIN LIBHSMUX SETTINGS [hsmux-attack options]
#   run_attack.sh pkcs11 ATTACK_BIN LIBHSMUX SETTINGS [hsmux-attack options]
#   run_attack.sh tpm ATTACK_BIN LIBHSMUX SETTINGS [hsmux-attack options]
# hsmux runs over a softhsm backend; pkcs11 over a pkcs11 backend that
# loads SoftHSM ($HSMUX_SOFTHSM_MODULE, else Debian's path) as any vendor
# module; tpm over a tpm backend on an in-process libtpms TPM.
# SETTINGS are policy lines for the backend section, separated by '|'
# ("policy = compat|weak-template = reject").
set -eu
mode=$1 bin=$2 module=$3
shift 3
dir=$(mktemp -d "${TMPDIR:-/tmp}/hsmux-attack.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

case $mode in
softhsm)
	mkdir "$dir/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$dir" \
		>"$dir/softhsm2.conf"
	SOFTHSM2_CONF=$dir/softhsm2.conf "$bin" "$@" "$module"
	;;
hsmux)
	settings=$1
	shift
	mkdir "$dir/store"
	printf '[backend:soft]\ntype = softhsm\nstore = %s/store\n' "$dir" >"$dir/hsmux.conf"
	printf '%s\n' "$settings" | tr '|' '\n' >>"$dir/hsmux.conf"
	HSMUX_CONF=$dir/hsmux.conf "$bin" "$@" "$module"
	;;
pkcs11)
	settings=$1
	shift
	mkdir "$dir/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$dir" \
		>"$dir/softhsm2.conf"
	printf '[backend:vendor]\ntype = pkcs11\nmodule = %s\n' \
		"${HSMUX_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}" >"$dir/hsmux.conf"
	printf '%s\n' "$settings" | tr '|' '\n' >>"$dir/hsmux.conf"
	SOFTHSM2_CONF=$dir/softhsm2.conf HSMUX_CONF=$dir/hsmux.conf "$bin" "$@" "$module"
	;;
tpm)
	settings=$1
	shift
	mkdir "$dir/tpm"
	printf '[backend:tpm]\ntype = tpm\ntcti = libtpms:%s/tpm\n' "$dir" >"$dir/hsmux.conf"
	printf '%s\n' "$settings" | tr '|' '\n' >>"$dir/hsmux.conf"
	HSMUX_CONF=$dir/hsmux.conf "$bin" "$@" "$module"
	;;
*)
	echo "run_attack.sh: unknown mode '$mode'; use softhsm, hsmux, pkcs11 or tpm" >&2
	exit 2
	;;
esac
