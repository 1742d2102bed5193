#!/bin/bash
# Crash safety of the softhsm backend. SoftHSM 2.6.1 rewrites token.object
# in place (truncate, then write) on C_Login and C_SetPIN, and a key's
# object file on C_SetAttributeValue. Without the backend's last-good
# copies, a kill -9 between truncate and write loses the token or the key.
# The backend puts the copy back at C_Initialize.
#
#   1. Cut files: token.object emptied and a key's object file cut in half
#      by hand come back at the next start, with one message each.
#   2. 40 rounds each of kill -9 at a random moment of C_Login, C_SetPIN
#      and C_SetAttributeValue(CKA_LABEL) on a token key. After every round
#      the token is listed, the 3 keys made before are there, and:
#      - login: the PIN logs in;
#      - setpin OLD NEW: if C_SetPIN returned, NEW logs in and OLD is
#        rejected; if it was killed, exactly one of OLD and NEW logs in and
#        the other gets CKR_PIN_INCORRECT;
#      - setlabel: if the call returned, the key has the new label; if it
#        was killed, it has the old or the new one.
# The number of rounds whose kill left a cut file (and so needed the
# repair) is printed; part 1 proves the repair on its own.
#
# Usage: test_softhsm_kill9.sh KILL9_CLIENT MODULE
# HSMUX_KILL9_SEED sets the seed of the random delays (printed at start).
set -uo pipefail

CLIENT=$1
MODULE=$2
ROUNDS=40
LABEL=kill9
SO_PIN=so-pin-1234
PIN_A=user-pin-a
PIN_B=user-pin-b

DIR=$(mktemp -d /tmp/hsmux-softhsm-kill9-XXXXXX)
trap 'rm -rf -- "$DIR"' EXIT
export HSMUX_CONF=$DIR/hsmux.conf
printf '[backend:soft]\ntype = softhsm\nstore = %s/store\n' "$DIR" >"$HSMUX_CONF"
unset HSMUX_DEBUG SOFTHSM2_CONF

SEED=${HSMUX_KILL9_SEED:-$$}
RANDOM=$SEED
echo "seed $SEED"

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

client() {
	"$CLIENT" "$MODULE" "$LABEL" "$@"
}

# check PIN: runs the check action and sets CHECK_RC and CHECK_OUT.
# REPAIRS counts the repair messages in its stderr, and KEY_REPAIRS those
# for key object files.
check() {
	CHECK_OUT=$(client check "$1" 2>"$DIR/check.err")
	CHECK_RC=$?
	REPAIRS=$(grep -c 'was incomplete' "$DIR/check.err")
	KEY_REPAIRS=$(grep -c "SoftHSM's [0-9a-f-]*\\.object of token '$LABEL' was incomplete" "$DIR/check.err")
}

# check_token PIN LABEL_TEXT: the token is listed, PIN logs in, the 3 keys are there.
check_token() {
	check "$1"
	[ "$CHECK_RC" != 3 ] || fail "$ROUND: token '$LABEL' is not listed: $(cat "$DIR/check.err")"
	[ "$CHECK_RC" = 0 ] || fail "$ROUND: check with PIN '$1' exited $CHECK_RC: $CHECK_OUT" \
		"$(cat "$DIR/check.err")"
	[ "$CHECK_OUT" = "keys 3 label $2" ] ||
		fail "$ROUND: expected 'keys 3 label $2', got '$CHECK_OUT'"
}

# duration_us ACTION ARGS...: how long one unkilled run takes, in microseconds.
duration_us() {
	local start end
	start=$(date +%s%N)
	client "$@" >/dev/null 2>&1
	end=$(date +%s%N)
	echo $(((end - start) / 1000))
}

# run_killed MAX_US ACTION ARGS...: starts the action, kills it after a
# random delay of 0 to MAX_US microseconds; sets RUN_RC (137 when killed).
run_killed() {
	local max=$1 delay pid
	shift
	delay=$(((RANDOM * 32768 + RANDOM) % max))
	# Not through client(): $! must be the client's own pid, not a subshell's.
	"$CLIENT" "$MODULE" "$LABEL" "$@" >/dev/null 2>&1 &
	pid=$!
	sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
	kill -9 "$pid" 2>/dev/null
	# The braces keep bash's "Killed" job message out of the output.
	{ wait "$pid"; } 2>/dev/null
	RUN_RC=$?
}

tokdir() {
	dirname "$(ls "$DIR"/store/tokens/*/token.object)"
}

# Set-up: a token with an AES key and an EC key pair.
ROUND=setup
client init "$SO_PIN" "$PIN_A" || fail "initializing the token failed"
client setup "$PIN_A" || fail "making the keys failed"
check_token "$PIN_A" label-a
TOK=$(tokdir)
[ -f "$TOK/.token.object.hsmux-good" ] || fail "no good copy of token.object in $TOK"
goods=$(find "$TOK" -name '.*.object.hsmux-good' | wc -l)
# token.object and 3 keys; SoftHSM ignored the copies, or check would count more keys.
[ "$goods" = 4 ] || fail "expected 4 good copies in $TOK, found $goods"
echo "set-up: token with 3 keys, 4 good copies that SoftHSM ignores"

# 1. Cut files by hand, as a kill between SoftHSM's truncate and write leaves them.
ROUND="cut token.object"
: >"$TOK/token.object"
check_token "$PIN_A" label-a
[ "$REPAIRS" = 1 ] || fail "$ROUND: expected 1 repair message, got $REPAIRS"
grep -q "token.object of token '$LABEL' was incomplete" "$DIR/check.err" ||
	fail "$ROUND: the message does not name the file and the token: $(cat "$DIR/check.err")"

ROUND="cut key object"
key=$(ls "$TOK"/*.object | grep -v '/token.object$' | head -n 1)
size=$(stat -c %s "$key")
truncate -s $((size / 2)) "$key"
check_token "$PIN_A" label-a
[ "$KEY_REPAIRS" = 1 ] || fail "$ROUND: expected 1 key repair message, got $KEY_REPAIRS"
[ "$(stat -c %s "$key")" = "$size" ] || fail "$ROUND: $key was not restored"

ROUND="cut, no good copy"
mv "$TOK/.token.object.hsmux-good" "$DIR/good.saved"
: >"$TOK/token.object"
check "$PIN_A"
[ "$CHECK_RC" = 3 ] || fail "$ROUND: a token without token.object was listed"
grep -q "has no good copy" "$DIR/check.err" || fail "$ROUND: no message about the lost token"
mv "$DIR/good.saved" "$TOK/.token.object.hsmux-good"
check_token "$PIN_A" label-a
echo "cut files: token.object and a key object restored; a token without a copy is reported"

# Leftovers: a good copy whose object is gone, and temporary files of a
# killed copy write. Those older than 60 s go, because a fresh one may be
# in use by another process.
ROUND="leftovers"
cp "$TOK/.token.object.hsmux-good" "$TOK/.0000-gone.object.hsmux-good"
touch "$TOK/.token.object.hsmux-good.tmp.OLD123" "$TOK/.token.object.hsmux-good.tmp.NEW123"
touch -d '2 minutes ago' "$TOK/.token.object.hsmux-good.tmp.OLD123"
check_token "$PIN_A" label-a
[ ! -e "$TOK/.0000-gone.object.hsmux-good" ] || fail "$ROUND: the copy of a gone object stays"
[ ! -e "$TOK/.token.object.hsmux-good.tmp.OLD123" ] || fail "$ROUND: an old temporary file stays"
[ -e "$TOK/.token.object.hsmux-good.tmp.NEW123" ] || fail "$ROUND: a fresh temporary file went"
rm -f "$TOK/.token.object.hsmux-good.tmp.NEW123"
echo "leftovers: the copy of a gone object and an old temporary file removed"

# 2. kill -9 at random moments.
max=$(($(duration_us login "$PIN_A") * 6 / 5 + 1000))
hits=0
for round in $(seq 1 "$ROUNDS"); do
	ROUND="login round $round"
	run_killed "$max" login "$PIN_A"
	check_token "$PIN_A" label-a
	hits=$((hits + REPAIRS))
done
echo "login: $ROUNDS rounds, $hits left a cut token.object that was repaired"

cur=$PIN_A
new=$PIN_B
max=$(($(duration_us setpin "$PIN_A" "$PIN_A") * 6 / 5 + 1000))
hits=0
done_calls=0
for round in $(seq 1 "$ROUNDS"); do
	ROUND="setpin round $round"
	run_killed "$max" setpin "$cur" "$new"
	check "$new"
	new_rc=$CHECK_RC
	new_out="$CHECK_OUT $(cat "$DIR/check.err")"
	hits=$((hits + REPAIRS))
	check "$cur"
	old_rc=$CHECK_RC
	old_out="$CHECK_OUT $(cat "$DIR/check.err")"
	if [ "$RUN_RC" = 0 ]; then
		done_calls=$((done_calls + 1))
		[ "$new_rc" = 0 ] && [ "$old_rc" = 2 ] ||
			fail "$ROUND: C_SetPIN returned, but the new PIN gives $new_rc and the old $old_rc"
	elif [ "$new_rc" = 0 ] && [ "$old_rc" = 2 ]; then
		:
	elif [ "$new_rc" = 2 ] && [ "$old_rc" = 0 ]; then
		new=$cur
	else
		fail "$ROUND: killed C_SetPIN (status $RUN_RC): the new PIN gives $new_rc," \
			"the old one $old_rc; exactly one must log in. New: $new_out. Old: $old_out"
	fi
	# Whichever PIN works now is the old PIN of the next round.
	[ "$new" = "$PIN_A" ] && cur=$PIN_A new=$PIN_B || cur=$PIN_B new=$PIN_A
	check_token "$cur" label-a
done
echo "setpin: $ROUNDS rounds ($done_calls returned), $hits left a cut token.object"

text=label-a
max=$(($(duration_us setlabel "$cur" label-a) * 6 / 5 + 1000))
hits=0
key_hits=0
for round in $(seq 1 "$ROUNDS"); do
	ROUND="setlabel round $round"
	[ "$text" = label-a ] && want=label-b || want=label-a
	run_killed "$max" setlabel "$cur" "$want"
	check "$cur"
	hits=$((hits + REPAIRS))
	key_hits=$((key_hits + KEY_REPAIRS))
	got=${CHECK_OUT#keys 3 label }
	[ "$CHECK_RC" = 0 ] && [ "$got" != "$CHECK_OUT" ] ||
		fail "$ROUND: check exited $CHECK_RC: $CHECK_OUT $(cat "$DIR/check.err")"
	if [ "$RUN_RC" = 0 ]; then
		[ "$got" = "$want" ] || fail "$ROUND: C_SetAttributeValue returned, label is '$got'"
	else
		[ "$got" = "$want" ] || [ "$got" = "$text" ] ||
			fail "$ROUND: the label is '$got', expected '$text' or '$want'"
	fi
	text=$got
done
echo "setlabel: $ROUNDS rounds, $hits left a cut object file that was repaired" \
	"($key_hits of them the key's, the others token.object from C_Login)"
