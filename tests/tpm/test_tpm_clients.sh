#!/bin/bash
# Real clients on the tpm backend through libhsmux.so: pkcs11-tool sets up
# the token, generates RSA and EC keys in the in-process TPM and signs
# (also CKM_RSA_PKCS of a 36-byte MD5 || SHA-1 value, as TLS 1.1 does);
# OpenSSL signs through libp11's engine. Plain openssl verifies every
# signature against the public keys exported with pkcs11-tool. pkcs11-tool
# stores a private data object and reads it back only after a login; its
# bytes are nowhere in the TPM's files. GnuTLS's
# p11tool signs, and NSS's certutil makes a key and certificate on the token.
# Usage: test_tpm_clients.sh MODULE
. "$(dirname "$0")/../clients/lib.sh"

# lib.sh points libhsmux.so at a SoftHSM store; this test wants a TPM instead.
setup_store() {
	MODULE_KIND=hsmux-tpm
	unset SOFTHSM2_CONF
	export HSMUX_CONF=$TEST_DIR/hsmux.conf
	printf '[backend:tpm]\ntype = tpm\ntcti = libtpms:%s/tpm\n' "$TEST_DIR" >"$HSMUX_CONF"
}
client_test_init "$@"

ENGINE=${HSMUX_PKCS11_ENGINE:-/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so}
[ -r "$ENGINE" ] || fail "libp11's engine $ENGINE is missing; install libengine-pkcs11-openssl"

TOKEN=tpm-token
token_init "$TOKEN"
out=$(p11tool_run --list-slots)
assert_contains "$out" "TPM 2.0 (libtpms)" "slot description"

keypair_gen "$TOKEN" rsa:2048 rsa2048 01
keypair_gen "$TOKEN" rsa:3072 rsa3072 02
keypair_gen "$TOKEN" EC:prime256v1 ec256 03
keypair_gen "$TOKEN" EC:secp384r1 ec384 04
# pkcs11-tool's default EC template requests CKA_DERIVE as well.
out=$(p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --keypairgen \
	--key-type EC:prime256v1 --label ecdefault --id 05)
assert_contains "$out" "Key pair generated" "keypairgen with pkcs11-tool's default template"

for label in rsa2048 rsa3072 ec256 ec384; do
	pubkey_export "$TOKEN" "$label" "$label.pem"
done
head -c 5000 /dev/urandom >data

# pkcs11_sign LABEL ID MECHANISM DGST [OPENSSL_SIGOPTS...]
pkcs11_sign() {
	local label=$1 id=$2 mech=$3 dgst=$4 out
	shift 4
	log "$label: pkcs11-tool --sign -m $mech"
	p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --sign -m "$mech" \
		--id "$id" -i data -o "$label.$mech.sig" >/dev/null
	out=$(run openssl dgst "-$dgst" "$@" -verify "$label.pem" -signature "$label.$mech.sig" data)
	assert_contains "$out" "Verified OK" "$label $mech signature"
}

pkcs11_sign rsa2048 01 SHA256-RSA-PKCS sha256
pkcs11_sign rsa3072 02 SHA384-RSA-PKCS sha384
pkcs11_sign rsa2048 01 SHA256-RSA-PKCS-PSS sha256 -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:digest

# CKM_RSA_PKCS of data that is no DigestInfo: TLS 1.0/1.1's MD5 || SHA-1.
log "rsa2048: pkcs11-tool --sign -m RSA-PKCS of a 36-byte MD5 || SHA-1 value"
{
	openssl dgst -md5 -binary data
	openssl dgst -sha1 -binary data
} >data.md5sha1
p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --sign -m RSA-PKCS --id 01 \
	-i data.md5sha1 -o rsa2048.raw.sig >/dev/null
out=$(run openssl pkeyutl -verify -pubin -inkey rsa2048.pem -in data.md5sha1 \
	-sigfile rsa2048.raw.sig)
assert_contains "$out" "Signature Verified Successfully" "rsa2048 RSA-PKCS signature of MD5 || SHA-1"
head -c 36 /dev/urandom >data.other
if openssl pkeyutl -verify -pubin -inkey rsa2048.pem -in data.other \
	-sigfile rsa2048.raw.sig >/dev/null 2>&1; then
	fail "openssl accepts the RSA-PKCS signature for other data"
fi

# ECDSA: pkcs11-tool signs the digest, and writes the DER form openssl reads.
for pair in ec256:03:sha256 ec384:04:sha384; do
	IFS=: read -r label id dgst <<<"$pair"
	log "$label: pkcs11-tool --sign -m ECDSA"
	openssl dgst "-$dgst" -binary data >"data.$dgst"
	p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --sign -m ECDSA \
		--signature-format openssl --id "$id" -i "data.$dgst" -o "$label.sig" >/dev/null
	out=$(run openssl dgst "-$dgst" -verify "$label.pem" -signature "$label.sig" data)
	assert_contains "$out" "Verified OK" "$label ECDSA signature"
done

log "pkcs11-tool --write-object: a certificate stored beside its TPM key"
run openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -outform DER -out cert.der \
	-subj "/CN=tpm cert" -days 1 >/dev/null
p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --write-object cert.der \
	--type cert --id 01 --label rsa2048 >/dev/null
out=$(p11tool_run --token-label "$TOKEN" --list-objects --type cert)
assert_contains "$out" "label:      rsa2048" "certificate listed by a new process"
p11tool_run --token-label "$TOKEN" --read-object --type cert --id 01 -o cert.read.der >/dev/null
cmp -s cert.der cert.read.der || fail "the certificate read back differs from the one written"

log "pkcs11-tool --write-object --type data --private: a value sealed in the store"
head -c 300 /dev/urandom >secret.bin
p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --write-object secret.bin \
	--type data --label vault --application-label hsmux-test --private >/dev/null
out=$(p11tool_run --token-label "$TOKEN" --list-objects --type data)
case "$out" in
*vault*) printf '%s\n' "$out" >&2; fail "a private data object is listed without a login" ;;
esac
if pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --read-object --type data \
	--label vault -o secret.nologin >/dev/null 2>&1; then
	fail "a private data object was read without a login"
fi
p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --read-object --type data \
	--label vault -o secret.read >/dev/null
cmp -s secret.bin secret.read || fail "the private data object read back differs from secret.bin"
# No 16-byte piece of the value may be in any file of the TPM's state and store.
for skip in 0 142 284; do
	piece=$(xxd -p -s "$skip" -l 16 secret.bin)
	for f in $(find "$TEST_DIR/tpm" -type f); do
		# A whole dump, not grep -q: with pipefail, an early exit would hide a hit.
		dump=$(xxd -p "$f" | tr -d '\n')
		case "$dump" in
		*"$piece"*) fail "bytes of the private data object are in plaintext in $f" ;;
		esac
	done
done

cat >engine.cnf <<EOF2
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
EOF2

key_uri() {
	printf 'pkcs11:token=%s;object=%s;type=private?pin-value=%s' "$TOKEN" "$1" "$USER_PIN"
}

for label in rsa2048 ec256 ec384; do
	log "$label: openssl dgst -sign through libp11's engine"
	OPENSSL_CONF=$TEST_DIR/engine.cnf run openssl dgst -sha256 -engine pkcs11 \
		-keyform engine -sign "$(key_uri "$label")" -out "$label.engine.sig" data >/dev/null
	out=$(run openssl dgst -sha256 -verify "$label.pem" -signature "$label.engine.sig" data)
	assert_contains "$out" "Verified OK" "$label engine signature"

	log "$label: self-signed certificate through libp11's engine"
	OPENSSL_CONF=$TEST_DIR/engine.cnf run openssl req -new -x509 -engine pkcs11 \
		-keyform engine -key "$(key_uri "$label")" -sha256 -days 1 \
		-subj "/O=hsmux/CN=tpm $label" -out "$label.crt" >/dev/null
	out=$(run openssl verify -CAfile "$label.crt" "$label.crt")
	assert_contains "$out" "$label.crt: OK" "$label certificate"
	run openssl x509 -in "$label.crt" -noout -pubkey >"$label.crt.pub"
	cmp -s "$label.crt.pub" "$label.pem" || fail "$label certificate holds another public key"
done

if command -v p11tool >/dev/null; then
	for label in rsa2048 ec256; do
		log "$label: GnuTLS p11tool --test-sign"
		out=$(GNUTLS_PIN=$USER_PIN run p11tool --provider "$MODULE" --login --test-sign \
			"pkcs11:token=$TOKEN;object=$label;type=private")
		assert_contains "$out" "Verifying against public key in the token... ok" \
			"$label GnuTLS signature"
	done
fi

if command -v certutil >/dev/null && command -v modutil >/dev/null; then
	log "NSS: certutil makes a key and a self-signed certificate on the token"
	mkdir nss
	run certutil -N -d sql:nss --empty-password >/dev/null
	run modutil -dbdir sql:nss -add hsmux -libfile "$MODULE" -force >/dev/null
	printf '%s\n' "$USER_PIN" >nss.pin
	head -c 64 /dev/urandom >nss.noise
	run certutil -S -d sql:nss -h "$TOKEN" -f nss.pin -n nsscert -s "CN=tpm nss" -x \
		-t "CT,," -k ec -q nistp256 -z nss.noise -v 12 >/dev/null
	out=$(run certutil -L -d sql:nss -h "$TOKEN" -f nss.pin)
	assert_contains "$out" "$TOKEN:nsscert" "NSS certificate on the token"
	out=$(run certutil -K -d sql:nss -h "$TOKEN" -f nss.pin)
	assert_contains "$out" "$TOKEN:nsscert" "NSS key on the token"
fi

log "PASS"
