#!/usr/bin/env bash
# Installs the build into a scratch prefix, then, as a user with no config
# and an empty home, initializes a token with pkcs11-tool through the
# installed libhsmux.so and lists it with the installed hsmux.
# usage: test_install.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d /tmp/hsmux-install.XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
module=$(find "$work/prefix" -name libhsmux.so | head -n 1)
tool="$work/prefix/bin/hsmux"
if [ -z "$module" ] || [ ! -x "$tool" ]; then
	echo "FAIL: cmake --install did not install libhsmux.so and bin/hsmux" >&2
	cat "$work/install.log" >&2
	exit 1
fi

# A fresh user: no HSMUX_CONF, no config files, an empty home.
unset HSMUX_CONF XDG_CONFIG_HOME XDG_DATA_HOME SOFTHSM2_CONF
export HOME="$work/home"
mkdir -p "$HOME"
if [ -e /etc/hsmux/hsmux.conf ]; then
	echo "SKIP: /etc/hsmux/hsmux.conf exists, so this machine has a config" >&2
	exit 77
fi

pkcs11-tool --module "$module" --init-token --slot-index 0 --label fresh --so-pin 123456 >"$work/init.log"
store="$HOME/.local/share/hsmux/softhsm"
if [ ! -f "$store/softhsm2.conf" ] || [ -z "$(ls -A "$store/tokens")" ]; then
	echo "FAIL: no SoftHSM store with a token under $store" >&2
	exit 1
fi

# The installed CLI finds the installed module beside it, with no --module.
unset HSMUX_MODULE
out=$("$tool" token list)
if ! grep -q "fresh" <<<"$out"; then
	echo "FAIL: the installed hsmux does not list token 'fresh':" >&2
	echo "$out" >&2
	exit 1
fi
echo "PASS: installed module and CLI; zero-config store at $store"
