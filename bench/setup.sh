#!/bin/sh
# Set up a fresh benchmark directory: a SoftHSM token store with one token,
# an hsmux config whose pkcs11 backend is SoftHSM itself, and a p11-kit user
# config that loads SoftHSM alone.
#
# usage: bench/setup.sh HSMUX_BENCH DIR
#
# Afterwards, set SOFTHSM2_CONF=DIR/softhsm2.conf and HSMUX_CONF=DIR/hsmux.conf.
# The token is labelled "bench", with SO PIN 12345678 and user PIN 1234;
# it contains no secrets, so the PINs are fixed.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 HSMUX_BENCH DIR" >&2
	exit 2
fi
bench=$1
dir=$2
softhsm=${HSMUX_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

if [ ! -x "$bench" ]; then
	echo "$0: $bench is not an executable; build the hsmux-bench target first" >&2
	exit 1
fi
if [ ! -e "$softhsm" ]; then
	echo "$0: SoftHSM module $softhsm not found; install the softhsm2 package" >&2
	exit 1
fi

mkdir -p "$dir/tokens" "$dir/home/.config/pkcs11/modules"
cat >"$dir/softhsm2.conf" <<EOF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
EOF

# A pkcs11 backend, not a softhsm one: the softhsm backend writes its own
# SoftHSM config, but here hsmux and SoftHSM direct must share this store.
cat >"$dir/hsmux.conf" <<EOF
[backend:soft]
type = pkcs11
module = $softhsm
EOF

# p11-kit reads these for a user other than root only.
printf 'user-config: only\n' >"$dir/home/.config/pkcs11/pkcs11.conf"
printf 'module: %s\n' "$softhsm" >"$dir/home/.config/pkcs11/modules/softhsm.module"

SOFTHSM2_CONF=$dir/softhsm2.conf "$bench" --a "$softhsm" --init-token --token bench \
	--so-pin 12345678 --pin 1234
