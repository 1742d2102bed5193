#!/bin/bash
# OpenSSH: ssh-keygen -D prints the token's public keys, which must match the
# keys exported with pkcs11-tool and converted by ssh-keygen -i.
# Usage: test_openssh.sh MODULE
. "$(dirname "$0")/lib.sh"
client_test_init "$@"
need ssh-keygen

# OpenSSH 9.2 skips Ed25519 keys on a PKCS#11 token, so none is made here.
TOKEN=ssh-token
token_init "$TOKEN"
keypair_gen "$TOKEN" rsa:2048 rsa2048 01
keypair_gen "$TOKEN" EC:prime256v1 ec256 02
keypair_gen "$TOKEN" EC:secp384r1 ec384 03

log "ssh-keygen -D"
listed=$(run ssh-keygen -D "$MODULE")
count=$(printf '%s\n' "$listed" | grep -c -E '^(ssh-rsa|ecdsa-sha2-nistp(256|384)) ')
assert_eq "$count" 3 "number of public keys from ssh-keygen -D"

for key in rsa2048:ssh-rsa ec256:ecdsa-sha2-nistp256 ec384:ecdsa-sha2-nistp384; do
	label=${key%%:*}
	pubkey_export "$TOKEN" "$label" "$label.pem"
	expected=$(run ssh-keygen -i -m PKCS8 -f "$label.pem")
	assert_contains "$expected" "${key#*:} " "$label key type"
	# ssh-keygen -D appends the key's CKA_LABEL as the comment.
	assert_contains "$listed" "$expected $label" "ssh-keygen -D lists $label"
	log "$label: listed as ${key#*:}"
done

log "PASS"
