#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine: install the missing Debian packages
# (scripts/packages.txt, with sudo when not root), build hsmux into build/, then
# run the main job through libhsmux.so on the zero-config SoftHSM store:
#   1. initialize a token with `hsmux token init`,
#   2. generate an EC P-256 and an RSA-3072 key pair through the module,
#   3. sign a file with OpenSSL through the module (libp11's pkcs11 engine),
#   4. verify each signature with plain openssl and the exported public key,
#   5. print `hsmux status`.
#
# By default the store goes to build/quickstart/data (XDG_DATA_HOME) and each
# run starts it afresh, so your own hsmux store stays untouched. --user-store
# uses your real default store instead ($XDG_DATA_HOME/hsmux/softhsm, or
# ~/.local/share/hsmux/softhsm) and adds a token with a dated label to it.
set -euo pipefail

usage() {
	echo "usage: $0 [--user-store] [--no-install]" >&2
	exit 2
}

user_store=0 install=1
while [ $# -gt 0 ]; do
	case "$1" in
	--user-store) user_store=1 ;;
	--no-install) install=0 ;;
	*) usage ;;
	esac
	shift
done

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
current_step="start"

step() {
	current_step=$*
	printf '\n==> %s\n' "$*"
}

on_error() {
	printf '\nquickstart FAILED during: %s\n' "$current_step" >&2
	printf 'Rerun with HSMUX_DEBUG=all to trace the module calls.\n' >&2
}
trap on_error ERR

if [ "$install" = 1 ]; then
	step "install missing Debian packages listed in scripts/packages.txt"
	bash scripts/install-deps.sh
fi

step "configure and build into build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"

MODULE=$top/build/module/libhsmux.so
HSMUX_CLI=$top/build/tools/hsmux
ENGINE=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
WORK=$top/build/quickstart
if [ ! -r "$MODULE" ]; then
	echo "the build did not produce $MODULE; see the build output above" >&2
	exit 1
fi
if [ ! -r "$ENGINE" ]; then
	echo "libp11's engine $ENGINE is missing; install libengine-pkcs11-openssl" >&2
	exit 1
fi

# No HSMUX_CONF: the module's zero-config default makes a SoftHSM store under
# $XDG_DATA_HOME/hsmux/softhsm on first use. An empty XDG_CONFIG_HOME keeps a
# personal hsmux.conf from redirecting the run.
unset HSMUX_CONF SOFTHSM2_CONF OPENSSL_CONF
export HSMUX_MODULE=$MODULE
if [ "$user_store" = 1 ]; then
	# Earlier user-store runs keep their PIN files, so each run gets its own dir.
	token=quickstart-$(date -u +%Y%m%d-%H%M%S)
	WORK=$top/build/quickstart-user/$token
	mkdir -p "$WORK"
else
	token=quickstart
	rm -rf "$WORK"
	mkdir -p "$WORK/data" "$WORK/config"
	export XDG_DATA_HOME=$WORK/data XDG_CONFIG_HOME=$WORK/config
fi
if [ -e /etc/hsmux/hsmux.conf ] && [ "$user_store" = 0 ]; then
	echo "note: /etc/hsmux/hsmux.conf exists and the module reads it in place of the default store"
fi
chmod 700 "$WORK"
cd "$WORK"

# Throwaway PINs for this demo token, kept in files only the user can read.
umask 077
openssl rand -hex 8 >so-pin.txt
openssl rand -hex 8 >user-pin.txt
user_pin=$(cat user-pin.txt)

step "initialize token '$token' through libhsmux.so (hsmux token init)"
if [ -x "$HSMUX_CLI" ]; then
	"$HSMUX_CLI" token init --label "$token" --so-pin-file so-pin.txt --pin-file user-pin.txt
else
	echo "build/tools/hsmux is missing, so pkcs11-tool initializes the token"
	pkcs11-tool --module "$MODULE" --init-token --label "$token" \
		--so-pin "$(cat so-pin.txt)"
	pkcs11-tool --module "$MODULE" --token-label "$token" --login --login-type so \
		--so-pin "$(cat so-pin.txt)" --init-pin --pin "$user_pin"
fi

# pkcs11-tool takes the PIN only as an argument, so it shows in the process
# list while the tool runs. That is acceptable for this throwaway token only.
keygen() {
	pkcs11-tool --module "$MODULE" --token-label "$token" --login --pin "$user_pin" \
		--keypairgen --key-type "$1" --label "$2" --id "$3" --usage-sign
}

step "generate an EC P-256 key pair 'qs-ec' through the module"
keygen EC:prime256v1 qs-ec 01
step "generate an RSA-3072 key pair 'qs-rsa' through the module"
keygen rsa:3072 qs-rsa 02

cat >openssl-engine.cnf <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $MODULE
init = 0
EOF
printf 'hsmux quick start, %s\n' "$(date -u)" >message.txt

for key in qs-ec:01 qs-rsa:02; do
	label=${key%:*}
	step "sign message.txt with '$label' using OpenSSL through the module (pkcs11 engine)"
	OPENSSL_CONF=$WORK/openssl-engine.cnf openssl dgst -sha256 -engine pkcs11 \
		-keyform engine -passin file:user-pin.txt \
		-sign "pkcs11:token=$token;object=$label;type=private" \
		-out "$label.sig" message.txt
	echo "wrote $WORK/$label.sig ($(stat -c %s "$label.sig") bytes)"

	step "export the public key of '$label' and verify the signature with plain openssl"
	pkcs11-tool --module "$MODULE" --token-label "$token" --read-object --type pubkey \
		--id "${key#*:}" -o "$label.pub.der"
	openssl pkey -pubin -inform DER -in "$label.pub.der" -out "$label.pub.pem"
	openssl dgst -sha256 -verify "$label.pub.pem" -signature "$label.sig" message.txt
done

step "hsmux status"
if [ -x "$HSMUX_CLI" ]; then
	"$HSMUX_CLI" status
else
	echo "build/tools/hsmux is missing; pkcs11-tool lists the slots instead"
	pkcs11-tool --module "$MODULE" --list-token-slots
fi

trap - ERR
printf '\nquickstart OK: token %s, keys and signatures in %s\n' "$token" "$WORK"
if [ "$user_store" = 0 ]; then
	printf 'Store: %s/hsmux/softhsm (set XDG_DATA_HOME=%s to use it again)\n' \
		"$XDG_DATA_HOME" "$XDG_DATA_HOME"
fi
printf 'PINs: %s/so-pin.txt and %s/user-pin.txt\n' "$WORK" "$WORK"
