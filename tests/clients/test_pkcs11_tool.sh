#!/bin/bash
# pkcs11-tool (OpenSC 0.23): key generation, sign through the module and
# verify with plain openssl, the built-in --test, and --test-threads.
# Usage: test_pkcs11_tool.sh MODULE
. "$(dirname "$0")/lib.sh"
client_test_init "$@"

TOKEN=p11tool-token
token_init "$TOKEN"
# pkcs11-tool signs inputs over 1 KiB in parts, which SoftHSM has no EdDSA for.
head -c 1000 /dev/urandom >data

# Sign data (its digest for ECDSA) with the key LABEL and check the signature
# with plain openssl: sign_verify LABEL ID MECHANISM DIGEST
# The key is chosen by --id, because pkcs11-tool 0.23 --sign ignores --label
# and takes the first private key.
sign_verify() {
	local label=$1 id=$2 mech=$3 digest=$4 input=data
	local -a opts=()

	case "$mech" in
	*PSS) opts=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:auto) ;;
	esac

	pubkey_export "$TOKEN" "$label" "$label.pem"
	case "$mech" in
	ECDSA)
		# SoftHSM has raw ECDSA only, so the digest is computed here and signed.
		openssl dgst "-$digest" -binary data >"data.$digest"
		input=data.$digest
		p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --sign -m ECDSA \
			--signature-format openssl --id "$id" -i "$input" -o "$label.sig" >/dev/null
		;;
	*)
		p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --sign -m "$mech" \
			--id "$id" -i "$input" -o "$label.sig" >/dev/null
		;;
	esac

	if [ "$mech" = EDDSA ]; then
		run openssl pkeyutl -verify -pubin -inkey "$label.pem" -rawin -in data \
			-sigfile "$label.sig" >/dev/null
		# A signature over other data must not verify.
		if openssl pkeyutl -verify -pubin -inkey "$label.pem" -rawin -in "$label.pem" \
			-sigfile "$label.sig" >/dev/null 2>&1; then
			fail "$label: signature verified over the wrong data"
		fi
	else
		run openssl dgst "-$digest" -verify "$label.pem" "${opts[@]}" \
			-signature "$label.sig" data >/dev/null
		if openssl dgst "-$digest" -verify "$label.pem" "${opts[@]}" \
			-signature "$label.sig" "$label.pem" >/dev/null 2>&1; then
			fail "$label: signature verified over the wrong data"
		fi
	fi
	log "$label: $mech signature verified by openssl"
}

log "generate EC P-256, P-384 and Ed25519 key pairs"
keypair_gen "$TOKEN" EC:prime256v1 ec256 01
keypair_gen "$TOKEN" EC:secp384r1 ec384 02
keypair_gen "$TOKEN" EC:edwards25519 ed25519 03

# --test runs before the RSA key exists. With an RSA key it also tries
# RSA-PKCS-OAEP with SHA-256, which SoftHSM 2.6.1 rejects (CKR_ARGUMENTS_BAD).
log "pkcs11-tool --test"
out=$(p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --test)
assert_contains "$out" "No errors" "pkcs11-tool --test"
assert_contains "$out" "SHA256: OK" "pkcs11-tool --test digests"

log "generate an RSA-2048 key pair"
keypair_gen "$TOKEN" rsa:2048 rsa2048 04

sign_verify ec256 01 ECDSA sha256
sign_verify ec384 02 ECDSA sha384
sign_verify ed25519 03 EDDSA sha512
sign_verify rsa2048 04 SHA256-RSA-PKCS sha256
sign_verify rsa2048 04 SHA384-RSA-PKCS-PSS sha384

out=$(p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" --list-objects --type privkey)
for label in ec256 ec384 ed25519 rsa2048; do
	assert_contains "$out" "label:      $label" "private key list"
done

# The child of fork() must be able to call C_Initialize again and use the
# module. SoftHSM 2.6.1 direct returns CKR_CRYPTOKI_ALREADY_INITIALIZED in the
# child, so the baseline run only reports that.
log "pkcs11-tool --test-fork"
rc=0
out=$(timeout 60 pkcs11-tool --module "$MODULE" --test-fork -L 2>&1) || rc=$?
if [ "$rc" -eq 0 ]; then
	assert_contains "$out" "Calling C_Initialize in forked child process" "--test-fork"
	assert_contains "$out" "token label        : $TOKEN" "--test-fork -L"
elif [ "$MODULE_KIND" = softhsm ]; then
	assert_contains "$out" "Child process exited with status" "--test-fork baseline"
	log "SoftHSM direct fails C_Initialize in the forked child, exit $rc (known baseline)"
else
	printf '%s\n' "$out" >&2
	fail "pkcs11-tool --test-fork exited with $rc"
fi

# Several threads initialize the module and read slots and tokens while the
# main thread lists slots. SoftHSM 2.6.1 itself crashes or hangs here now and
# then in concurrent C_Initialize calls, so the baseline run only reports
# that, while hsmux must survive every run. When the main thread finishes
# before its threads, pkcs11-tool sleeps 30 s before it checks them again,
# so the runs go in parallel to keep the test short.
log "pkcs11-tool --test-threads (4 runs in parallel)"
pids=()
for n in 1 2 3 4; do
	timeout 90 pkcs11-tool --module "$MODULE" --test-threads IN --test-threads ILGISLT0 \
		--test-threads ILGISLT0 -L >"threads.$n.log" 2>&1 &
	pids+=("$!")
done
for n in 1 2 3 4; do
	rc=0
	wait "${pids[n - 1]}" || rc=$?
	if [ "$rc" -eq 0 ]; then
		assert_contains "$(cat "threads.$n.log")" "token label        : $TOKEN" \
			"--test-threads -L"
		continue
	fi
	if [ "$MODULE_KIND" = softhsm ] && { [ "$rc" -gt 128 ] || [ "$rc" -eq 124 ]; }; then
		log "run $n: SoftHSM direct crashed or hung, exit $rc (known baseline)"
		continue
	fi
	cat "threads.$n.log" >&2
	fail "pkcs11-tool --test-threads run $n exited with $rc"
done

log "PASS"
