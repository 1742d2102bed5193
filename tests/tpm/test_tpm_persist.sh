#!/bin/bash
# Persistence of the tpm backend on libtpms, through libhsmux.so:
#   1. one process generates keys and exits; a new process signs with them;
#   2. kill -9 during key generation, three times: afterwards every key that
#      C_GenerateKeyPair returned is there, a half-made key pair is either
#      whole or absent, every key signs, and no temporary file is left;
#   3. two processes started at once on the same state: the second waits for
#      the first one's lock on the libtpms state, and both keys sets remain;
#   4. fork(): after the parent's C_Finalize, the child's C_Initialize gets
#      the TPM and signs with every key.
# Usage: test_tpm_persist.sh TPM_PERSIST MODULE
set -euo pipefail

PERSIST=$1
MODULE=$2
DIR=$(mktemp -d /tmp/hsmux-tpm-persist-XXXXXX)
trap 'rm -rf -- "$DIR"' EXIT

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

"$PERSIST" gen "$MODULE" "$DIR" 4 >"$DIR/gen.out" || fail "generating 4 keys failed"
[ "$(grep -c '^generated' "$DIR/gen.out")" = 4 ] || fail "gen did not report 4 keys"
out=$("$PERSIST" check "$MODULE" "$DIR") || fail "a new process could not sign: $out"
[ "$out" = "keys 4" ] || fail "expected 'keys 4' after a restart, got '$out'"
echo "persistence: 4 keys sign after a restart"

expected=4
for delay in 0.7 1.3 2.1; do
	"$PERSIST" genloop "$MODULE" "$DIR" >"$DIR/loop.out" 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	made=$(grep -c '^generated' "$DIR/loop.out" || true)
	expected=$((expected + made))

	out=$("$PERSIST" check "$MODULE" "$DIR") || fail "store inconsistent after kill -9: $out"
	found=${out#keys }
	# The key being written when the process died may be there or not.
	if [ "$found" -ne "$expected" ] && [ "$found" -ne $((expected + 1)) ]; then
		fail "after kill -9 at ${delay}s: $found keys, expected $expected or $((expected + 1))"
	fi
	expected=$found
	leftovers=$(find "$DIR/tpm" -name '.tmp-*' | wc -l)
	[ "$leftovers" = 0 ] || fail "temporary files left after restart: $leftovers"
	echo "kill -9 at ${delay}s: $made keys reported, $found keys in a consistent store"
done

"$PERSIST" gen "$MODULE" "$DIR" 2 >"$DIR/a.out" &
a=$!
"$PERSIST" gen "$MODULE" "$DIR" 2 >"$DIR/b.out" &
b=$!
wait "$a" || fail "the first of two concurrent processes failed"
wait "$b" || fail "the second of two concurrent processes failed"
out=$("$PERSIST" check "$MODULE" "$DIR") || fail "store inconsistent after two writers: $out"
[ "$out" = "keys $((expected + 4))" ] || fail "expected $((expected + 4)) keys, got '$out'"
echo "two processes at once: both added their keys, $((expected + 4)) keys in the store"

out=$("$PERSIST" fork "$MODULE" "$DIR") || fail "the child of fork() could not use the TPM: $out"
case "$out" in
*"child signed after fork"*) echo "fork: the child took the TPM over after the parent's C_Finalize" ;;
*) fail "fork: unexpected output '$out'" ;;
esac
