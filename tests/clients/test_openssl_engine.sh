#!/bin/bash
# OpenSSL 3 through libp11's pkcs11 engine: sign with keys named by pkcs11:
# URIs and make a self-signed certificate. Plain openssl (no engine) checks
# every result against the public keys exported with pkcs11-tool.
# Usage: test_openssl_engine.sh MODULE
. "$(dirname "$0")/lib.sh"
client_test_init "$@"

ENGINE=${HSMUX_PKCS11_ENGINE:-/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so}
[ -r "$ENGINE" ] || fail "libp11's engine $ENGINE is missing; install libengine-pkcs11-openssl"

# This token gets no Ed25519 key, because libp11 0.4.12 fails to enumerate
# private keys (and may crash) on a token that contains one.
TOKEN=engine-token
token_init "$TOKEN"
keypair_gen "$TOKEN" rsa:2048 rsa2048 01
keypair_gen "$TOKEN" EC:prime256v1 ec256 02
pubkey_export "$TOKEN" rsa2048 rsa2048.pem
pubkey_export "$TOKEN" ec256 ec256.pem
head -c 10000 /dev/urandom >data

cat >engine.cnf <<EOF
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

# openssl with the engine loaded; everything else runs plain openssl.
engine_openssl() {
	OPENSSL_CONF=$TEST_DIR/engine.cnf run openssl "$@"
}

key_uri() {
	printf 'pkcs11:token=%s;object=%s;type=private?pin-value=%s' "$TOKEN" "$1" "$USER_PIN"
}

for label in rsa2048 ec256; do
	log "$label: openssl dgst -sign through the engine"
	engine_openssl dgst -sha256 -engine pkcs11 -keyform engine -sign "$(key_uri "$label")" \
		-out "$label.dgst.sig" data >/dev/null
	out=$(run openssl dgst -sha256 -verify "$label.pem" -signature "$label.dgst.sig" data)
	assert_contains "$out" "Verified OK" "$label dgst signature"

	log "$label: openssl pkeyutl -sign through the engine"
	openssl dgst -sha256 -binary data >data.sha256
	engine_openssl pkeyutl -engine pkcs11 -keyform engine -inkey "$(key_uri "$label")" \
		-sign -pkeyopt digest:sha256 -in data.sha256 -out "$label.pkeyutl.sig" >/dev/null
	out=$(run openssl pkeyutl -verify -pubin -inkey "$label.pem" -pkeyopt digest:sha256 \
		-in data.sha256 -sigfile "$label.pkeyutl.sig")
	assert_contains "$out" "Signature Verified Successfully" "$label pkeyutl signature"

	log "$label: self-signed certificate through the engine"
	engine_openssl req -new -x509 -engine pkcs11 -keyform engine -key "$(key_uri "$label")" \
		-sha256 -days 1 -subj "/O=hsmux/CN=engine $label" -out "$label.crt" >/dev/null
	out=$(run openssl verify -CAfile "$label.crt" "$label.crt")
	assert_contains "$out" "$label.crt: OK" "$label certificate signature"
	out=$(run openssl x509 -in "$label.crt" -noout -subject)
	assert_eq "$out" "subject=O = hsmux, CN = engine $label" "$label certificate subject"
	# The certificate must carry the token's public key, not some other one.
	run openssl x509 -in "$label.crt" -noout -pubkey >"$label.crt.pub"
	cmp -s "$label.crt.pub" "$label.pem" || fail "$label certificate holds another public key"
done

log "PASS"
