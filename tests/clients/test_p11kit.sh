#!/bin/bash
# p11-kit: the module registered with a .module file in the user's config is
# listed by `p11-kit list-modules` with its token, and p11-kit's proxy module
# forwards to it. p11-kit 0.24 skips per-user config for root, so as root the
# checks run as the unprivileged user hsmux-test (created when missing).
# Usage: test_p11kit.sh MODULE
. "$(dirname "$0")/lib.sh"
client_test_init "$@"
need p11-kit

PROXY=${HSMUX_P11KIT_PROXY:-/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so}
TEST_USER=hsmux-test
TOKEN=p11kit-token
token_init "$TOKEN"
keypair_gen "$TOKEN" EC:prime256v1 p11kit-ec 01

USER_HOME=$TEST_DIR/home
MODULE_DIR=$USER_HOME/.config/pkcs11/modules
mkdir -p "$MODULE_DIR"
printf 'module: %s\n' "$MODULE" >"$MODULE_DIR/hsmux-test.module"
chmod 644 "$MODULE_DIR/hsmux-test.module"

# A user file named like a system one overrides it. Keeping the system modules
# out makes the listing show only ours, and keeps tpm2-pkcs11 from probing
# TPM devices and sockets.
for file in /usr/share/p11-kit/modules/*.module /etc/pkcs11/modules/*.module; do
	[ -e "$file" ] || continue
	printf 'disable-in: p11-kit, p11-kit-proxy\n' >"$MODULE_DIR/$(basename "$file")"
done

if [ "$(id -u)" -eq 0 ]; then
	need setpriv useradd
	if ! id "$TEST_USER" >/dev/null 2>&1; then
		log "create the unprivileged user $TEST_USER"
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$TEST_USER" || id "$TEST_USER" >/dev/null ||
			fail "cannot create user $TEST_USER"
	fi
	# Root made the token store above, so the user must own it to use it.
	chown -R "$TEST_USER:" "$TEST_DIR"
	as_user() {
		setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
			env -u XDG_CONFIG_HOME HOME="$USER_HOME" "$@"
	}
	[ -r "$MODULE" ] && as_user test -r "$MODULE" ||
		fail "$TEST_USER cannot read $MODULE; make its directories world-readable"
else
	as_user() {
		env -u XDG_CONFIG_HOME HOME="$USER_HOME" "$@"
	}
fi

log "p11-kit list-modules"
out=$(run as_user p11-kit list-modules)
assert_contains "$out" "hsmux-test: $MODULE" "p11-kit list-modules"
assert_contains "$out" "token: $TOKEN" "p11-kit list-modules token"
count=$(printf '%s\n' "$out" | grep -c '^[^ ].*: ')
assert_eq "$count" 1 "number of modules p11-kit lists"

log "pkcs11-tool through p11-kit's proxy module"
[ -r "$PROXY" ] || fail "p11-kit's proxy module $PROXY is missing; install p11-kit-modules"
out=$(run as_user pkcs11-tool --module "$PROXY" --list-token-slots)
assert_contains "$out" "token label        : $TOKEN" "proxy slot list"
out=$(run as_user pkcs11-tool --module "$PROXY" --token-label "$TOKEN" --login \
	--pin "$USER_PIN" --list-objects --type privkey)
assert_contains "$out" "label:      p11kit-ec" "private key listed through the proxy"

log "PASS"
