#!/bin/bash
# Java SunPKCS11: a provider configured with the module logs in, generates
# EC P-256 and RSA-2048 token key pairs and signs with them; Java's software
# providers and plain openssl verify the signatures.
# Usage: test_java.sh MODULE
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
client_test_init "$@"
need java

# The JVM uses SIGSEGV on purpose, so with the sanitized module the ASan
# runtime must leave that signal to it.
if [ -n "${HSMUX_TEST_SANITIZED:-}" ]; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:allow_user_segv_handler=1"
fi

TOKEN=java-token
token_init "$TOKEN"

# SunPKCS11 picks a slot by its index in C_GetSlotList(FALSE), which is the
# "Slot N" that pkcs11-tool -L prints.
index=$(pkcs11-tool --module "$MODULE" -L 2>/dev/null | awk -v want="$TOKEN" '
	/^Slot [0-9]+ / { slot = $2 }
	$1 == "token" && $2 == "label" && $4 == want { print slot; exit }')
[ -n "$index" ] || fail "token $TOKEN not found in pkcs11-tool -L"

cat >java.cfg <<CFG
name = hsmuxtest
library = $MODULE
slotListIndex = $index
attributes(generate, CKO_PRIVATE_KEY, *) = {
  CKA_TOKEN = true
  CKA_SENSITIVE = true
  CKA_EXTRACTABLE = false
}
attributes(generate, CKO_PUBLIC_KEY, *) = {
  CKA_TOKEN = true
}
CFG

# The same slot, asking for private keys that may be read out.
cat >plain.cfg <<CFG
name = plain
library = $MODULE
slotListIndex = $index
attributes(generate, CKO_PRIVATE_KEY, *) = {
  CKA_SENSITIVE = false
  CKA_EXTRACTABLE = true
}
CFG

head -c 1000 /dev/urandom >data.bin
log "java SunPkcs11Check.java"
out=$(run java "$here/SunPkcs11Check.java" java.cfg "$USER_PIN" data.bin . plain.cfg)
printf '%s\n' "$out"
assert_contains "$out" "PASS" "SunPkcs11Check"

# Asked for a readable private key, SoftHSM makes one; hsmux's policy makes
# it sensitive and non-extractable (weak-template = tighten, the default).
if [ "$MODULE_KIND" = hsmux ]; then
	assert_contains "$out" "plain EC private key format: none" "hsmux key policy"
else
	assert_contains "$out" "plain EC private key format: PKCS#8" "SoftHSM baseline"
fi

for key in ec rsa; do
	run openssl dgst -sha256 -verify "$key.pub.der" -keyform DER -signature "$key.sig" \
		data.bin >/dev/null
	log "$key: openssl verifies the signature"
done

# Both key pairs are token objects, so a second program finds them.
objects=$(p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --list-objects \
	--type privkey)
count=$(printf '%s\n' "$objects" | grep -c '^Private Key Object')
assert_eq "$count" 2 "private keys on the token after the Java run"

log "PASS"
