#!/bin/bash
# The tpm backend over swtpm's TCTI: the test starts swtpm on 127.0.0.1 at a
# free port, generates and uses keys through libhsmux.so from one process,
# then from a second one on the same store, tries a wrong PIN, and stops
# swtpm.
# Usage: test_tpm_swtpm.sh TPM_PERSIST MODULE
set -euo pipefail

PERSIST=$1
MODULE=$2
command -v swtpm >/dev/null || { echo "FAIL: swtpm is not installed" >&2; exit 1; }
DIR=$(mktemp -d /tmp/hsmux-tpm-swtpm-XXXXXX)
PIDFILE=$DIR/swtpm.pid

stop_swtpm() {
	if [ -s "$PIDFILE" ]; then
		kill "$(cat "$PIDFILE")" 2>/dev/null || true
	fi
	rm -rf -- "$DIR"
}
trap stop_swtpm EXIT

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# Two consecutive free ports on 127.0.0.1: the TPM's and its control channel.
free_port_pair() {
	/usr/bin/python3 - <<'PY'
import socket
for _ in range(50):
    a = socket.socket()
    a.bind(("127.0.0.1", 0))
    port = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", port + 1))
    except OSError:
        a.close()
        continue
    a.close()
    b.close()
    print(port)
    break
PY
}

PORT=$(free_port_pair)
[ -n "$PORT" ] || fail "no free port pair on 127.0.0.1"
mkdir -p "$DIR/state"
swtpm socket --tpm2 --tpmstate dir="$DIR/state" --pid file="$PIDFILE" --daemon \
	--server type=tcp,port="$PORT",bindaddr=127.0.0.1 \
	--ctrl type=tcp,port=$((PORT + 1)),bindaddr=127.0.0.1 \
	--flags not-need-init,startup-clear || fail "swtpm did not start on port $PORT"
for _ in $(seq 50); do
	[ -s "$PIDFILE" ] && break
	sleep 0.1
done
export HSMUX_TEST_TPM_TCTI="swtpm:host=127.0.0.1,port=$PORT"
echo "swtpm on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"

"$PERSIST" gen "$MODULE" "$DIR" 2 >"$DIR/gen.out" || fail "key generation over swtpm failed"
out=$("$PERSIST" check "$MODULE" "$DIR") || fail "signing over swtpm failed: $out"
[ "$out" = "keys 2" ] || fail "expected 'keys 2' over swtpm, got '$out'"
echo "swtpm: 2 keys generated, found again and signing in a new process"

# swtpm 0.7.1 serves one client connection at a time: a second process that
# connects makes the first one's commands fail with an I/O error, so the
# processes here take turns. Concurrent users of one swtpm need a resource
# manager such as tpm2-abrmd in front of it.
"$PERSIST" gen "$MODULE" "$DIR" 3 >"$DIR/gen2.out" || fail "a second writer over swtpm failed"
out=$("$PERSIST" check "$MODULE" "$DIR") || fail "store inconsistent after two writers: $out"
[ "$out" = "keys 5" ] || fail "expected 'keys 5' after two writers, got '$out'"
echo "swtpm: a second process added 3 keys; 5 keys in a consistent store"

# Over swtpm, commands run in a salted HMAC session with parameter
# encryption; a failed PIN must leave that session usable.
out=$("$PERSIST" wrongpin "$MODULE" "$DIR") || fail "login after a wrong PIN failed: $out"
[ "$out" = "keys 5" ] || fail "expected 'keys 5' after a wrong PIN, got '$out'"
echo "swtpm: a wrong PIN is CKR_PIN_INCORRECT, and the right one works after it"
