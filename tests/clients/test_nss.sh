#!/bin/bash
# NSS (certutil, modutil): add the module to a fresh database, list the token,
# make a key pair and a self-signed certificate on the token, list its keys.
# Plain openssl checks the certificate, and pkcs11-tool finds the key NSS made.
# Usage: test_nss.sh MODULE
. "$(dirname "$0")/lib.sh"
client_test_init "$@"
need certutil modutil

TOKEN=nss-token
DB=sql:$TEST_DIR/nssdb
token_init "$TOKEN"
printf '%s\n' "$USER_PIN" >pin.txt
head -c 64 /dev/urandom >noise.bin

log "certutil -N and modutil -add into a fresh database"
mkdir nssdb
run certutil -N -d "$DB" --empty-password >/dev/null
out=$(run modutil -dbdir "$DB" -add hsmux-test -libfile "$MODULE" -force)
assert_contains "$out" 'Module "hsmux-test" added to database.' "modutil -add"
out=$(run modutil -dbdir "$DB" -list hsmux-test)
assert_contains "$out" "Token Name: $TOKEN" "modutil -list"

# Without -h TOKEN and -f PINFILE, NSS may prompt on the terminal.
log "certutil -L -h $TOKEN on the empty token"
out=$(run certutil -L -d "$DB" -h "$TOKEN" -f pin.txt)
assert_contains "$out" "Certificate Nickname" "certutil -L"

for kind in ec rsa; do
	nick=nss-$kind
	case "$kind" in
	ec) keyopts=(-k ec -q nistp256) ;;
	rsa) keyopts=(-k rsa -g 2048) ;;
	esac

	log "$nick: key pair and self-signed certificate on the token (certutil -S -x)"
	run certutil -S -d "$DB" -h "$TOKEN" -f pin.txt -z noise.bin -n "$nick" -x -t "CT,," \
		-s "CN=hsmux NSS $kind,O=hsmux" -v 12 "${keyopts[@]}" </dev/null >/dev/null

	out=$(run certutil -L -d "$DB" -h "$TOKEN" -f pin.txt)
	assert_contains "$out" "$TOKEN:$nick" "certutil -L after -S"

	out=$(run certutil -L -d "$DB" -h "$TOKEN" -f pin.txt -n "$TOKEN:$nick" -a)
	printf '%s\n' "$out" >"$nick.crt"
	out=$(run openssl verify -CAfile "$nick.crt" "$nick.crt")
	assert_contains "$out" "$nick.crt: OK" "$nick certificate signature"
	out=$(run openssl x509 -in "$nick.crt" -noout -subject)
	assert_eq "$out" "subject=O = hsmux, CN = hsmux NSS $kind" "$nick certificate subject"

	# certutil -K prints "< n> TYPE CKA_ID-hex TOKEN:NICK" for each key.
	out=$(run certutil -K -d "$DB" -h "$TOKEN" -f pin.txt)
	key_id=$(printf '%s\n' "$out" | awk -v nick="$TOKEN:$nick" -v kind="$kind" \
		'$NF == nick && $(NF - 2) == kind { print $(NF - 1) }')
	if [ -z "$key_id" ]; then
		printf '%s\n' "$out" >&2
		fail "certutil -K lists no $kind key for $nick"
	fi

	out=$(p11tool_run --token-label "$TOKEN" --login --pin "$USER_PIN" \
		--list-objects --type privkey)
	assert_contains "$out" "ID:         $key_id" "pkcs11-tool sees the key NSS made"
done

log "PASS"
