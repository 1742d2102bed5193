#!/bin/bash
# PyKCS11 (Debian's python3-pykcs11): session and object basics, run by
# pykcs11_basics.py on a fresh token.
# Usage: test_pykcs11.sh MODULE
. "$(dirname "$0")/lib.sh"
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
client_test_init "$@"

# Debian's modules are only on the system interpreter's path, and another
# python3 may come first on PATH.
PYTHON=/usr/bin/python3
"$PYTHON" -c 'import PyKCS11' 2>/dev/null ||
	fail "PyKCS11 is missing for $PYTHON; install python3-pykcs11"

TOKEN=pykcs11-token
token_init "$TOKEN"

log "pykcs11_basics.py"
HSMUX_TEST_MODULE=$MODULE HSMUX_TEST_TOKEN=$TOKEN HSMUX_TEST_PIN=$USER_PIN \
	"$PYTHON" "$SCRIPT_DIR/pykcs11_basics.py" || fail "pykcs11_basics.py failed"

log "PASS"
