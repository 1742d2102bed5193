#!/bin/bash
# GnuTLS (p11tool, certtool): list the token, test-sign with each key type,
# and make a self-signed certificate with a token key that plain openssl checks.
# Usage: test_gnutls.sh MODULE
. "$(dirname "$0")/lib.sh"
client_test_init "$@"
need p11tool certtool

# NOTE: with GCC 12's ASan runtime preloaded on Debian 12, p11tool hangs in
# p11-kit's exit-time freelocale on a broken __libc_setlocale_lock, even
# `p11tool --list-tokens` without our module. So the sanitizer build skips it.
if [ -n "${HSMUX_TEST_SANITIZED:-}" ]; then
	echo "SKIP: p11tool hangs under a preloaded ASan runtime, with or without hsmux"
	exit 77
fi

TOKEN=gnutls-token
token_init "$TOKEN"
keypair_gen "$TOKEN" rsa:2048 rsa2048 01
keypair_gen "$TOKEN" EC:prime256v1 ec256 02
keypair_gen "$TOKEN" EC:edwards25519 ed25519 03
export GNUTLS_PIN=$USER_PIN

log "p11tool --list-tokens"
out=$(run p11tool --provider "$MODULE" --list-tokens)
assert_contains "$out" "Label: $TOKEN" "p11tool --list-tokens"
assert_contains "$out" "token=$TOKEN" "p11tool --list-tokens URL"

log "p11tool --list-privkeys"
out=$(run p11tool --provider "$MODULE" --login --list-privkeys "pkcs11:token=$TOKEN")
for label in rsa2048 ec256 ed25519; do
	assert_contains "$out" "Label: $label" "p11tool --list-privkeys"
done

# p11tool signs, then verifies with the private key's parameters and with the
# public key object on the token. Ed25519 needs SHA-512 named explicitly.
for key in rsa2048:SHA256 ec256:SHA256 ed25519:SHA512; do
	label=${key%:*}
	log "$label: p11tool --test-sign"
	out=$(run p11tool --provider "$MODULE" --login --hash "${key#*:}" --test-sign \
		"pkcs11:token=$TOKEN;object=$label;type=private")
	assert_contains "$out" "Verifying against public key in the token... ok" "$label test-sign"
done

log "certtool self-signed certificate with the ec256 token key"
printf 'cn = "hsmux GnuTLS"\norganization = "hsmux"\nexpiration_days = 1\nsigning_key\n' \
	>cert.tmpl
run certtool --provider "$MODULE" --generate-self-signed --template cert.tmpl \
	--load-privkey "pkcs11:token=$TOKEN;object=ec256;type=private" --outfile ec256.crt >/dev/null
out=$(run openssl verify -CAfile ec256.crt ec256.crt)
assert_contains "$out" "ec256.crt: OK" "certtool certificate signature"
out=$(run openssl x509 -in ec256.crt -noout -subject)
assert_eq "$out" "subject=O = hsmux, CN = hsmux GnuTLS" "certtool certificate subject"
pubkey_export "$TOKEN" ec256 ec256.pem
run openssl x509 -in ec256.crt -noout -pubkey >ec256.crt.pub
cmp -s ec256.crt.pub ec256.pem || fail "certtool certificate holds another public key"

log "PASS"
