#!/usr/bin/python3
"""PyKCS11 helper of the CLI tests, run in a process of its own per module.

  create: makes keys on a token with the module given, normally SoftHSM
          direct, because hsmux refuses to make the keys that break its rules.
  use:    tries the operations that the rules govern on those keys, and
          prints {"operation": "CKR_..."} as JSON.

The user PIN comes from $P11_KEYS_PIN, never from argv.
"""

import argparse
import json
import os
import sys

import PyKCS11

# DER of the OID of prime256v1 (P-256), for CKA_EC_PARAMS.
P256 = bytes.fromhex("06082a8648ce3d030107")

# label: (CKA_ID in hex, what the key is). test_cli.py expects these values.
KEYS = {
    "aes-wrap-decrypt": ("01", "AES key with WRAP and DECRYPT"),
    "rsa-wrap-decrypt": ("02", "RSA pair: the public key wraps, the private key decrypts"),
    "aes-extractable": ("03", "AES key, extractable and not sensitive"),
    "aes-clean": ("04", "AES key that encrypts and decrypts, sensitive, not extractable"),
    "ec-sign": ("05", "EC P-256 pair that signs and verifies"),
    "aes-imported-wrap": ("06", "AES key made by C_CreateObject, with WRAP and UNWRAP"),
    "rsa-1024-sign": ("07", "RSA-1024 pair that signs and verifies"),
    "des3-crypt": ("08", "DES3 key that encrypts and decrypts"),
}


def open_token(module, label):
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    for slot in lib.getSlotList(tokenPresent=True):
        if lib.getTokenInfo(slot).label.strip() == label:
            session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
            session.login(os.environ["P11_KEYS_PIN"])
            return lib, session
    sys.exit(f"p11_keys: no token '{label}' in {module}")


def common(label, private=True):
    key_id = bytes.fromhex(KEYS[label][0])
    attrs = [(PyKCS11.CKA_TOKEN, True), (PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_ID, key_id)]
    if private:
        attrs.append((PyKCS11.CKA_PRIVATE, True))
    return attrs


def usages(**on):
    names = ("ENCRYPT", "DECRYPT", "WRAP", "UNWRAP", "SIGN", "VERIFY", "DERIVE")
    return [(getattr(PyKCS11, "CKA_" + n), on.get(n.lower(), False)) for n in names]


def secret(label, key_type, sensitive=True, extractable=False, **on):
    return common(label) + usages(**on) + [
        (PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_KEY_TYPE, key_type),
        (PyKCS11.CKA_SENSITIVE, sensitive), (PyKCS11.CKA_EXTRACTABLE, extractable)]


def aes(session, label, sensitive=True, extractable=False, **on):
    template = secret(label, PyKCS11.CKK_AES, sensitive, extractable, **on)
    session.generateKey(template + [(PyKCS11.CKA_VALUE_LEN, 32)],
                        PyKCS11.MechanismAESGENERATEKEY)


def pair(session, label, mech, public_extra, pub_on, priv_on):
    public = common(label, private=False) + usages(**pub_on) + public_extra
    private = common(label) + usages(**priv_on) + [
        (PyKCS11.CKA_SENSITIVE, True), (PyKCS11.CKA_EXTRACTABLE, False)]
    # SoftHSM 2.6.1 gives CKR_ATTRIBUTE_TYPE_INVALID for SIGN, DECRYPT or UNWRAP in a
    # public key template, and ENCRYPT, VERIFY or WRAP in a private one, even FALSE.
    public = [a for a in public if a[0] not in (PyKCS11.CKA_SIGN, PyKCS11.CKA_DECRYPT,
                                                PyKCS11.CKA_UNWRAP)]
    private = [a for a in private if a[0] not in (PyKCS11.CKA_ENCRYPT, PyKCS11.CKA_VERIFY,
                                                  PyKCS11.CKA_WRAP)]
    session.generateKeyPair(public, private, mech)


def create(session):
    aes(session, "aes-wrap-decrypt", wrap=True, decrypt=True)
    pair(session, "rsa-wrap-decrypt", PyKCS11.MechanismRSAGENERATEKEYPAIR,
         [(PyKCS11.CKA_MODULUS_BITS, 2048), (PyKCS11.CKA_PUBLIC_EXPONENT, (1, 0, 1))],
         {"wrap": True}, {"decrypt": True})
    aes(session, "aes-extractable", sensitive=False, extractable=True, encrypt=True,
        decrypt=True)
    aes(session, "aes-clean", encrypt=True, decrypt=True)
    ec = PyKCS11.Mechanism(PyKCS11.CKM_EC_KEY_PAIR_GEN, None)
    pair(session, "ec-sign", ec, [(PyKCS11.CKA_EC_PARAMS, P256)], {"verify": True},
         {"sign": True})
    # The client supplies the value, so SoftHSM sets CKA_LOCAL to FALSE.
    session.createObject(secret("aes-imported-wrap", PyKCS11.CKK_AES, wrap=True, unwrap=True)
                         + [(PyKCS11.CKA_VALUE, os.urandom(32))])
    pair(session, "rsa-1024-sign", PyKCS11.MechanismRSAGENERATEKEYPAIR,
         [(PyKCS11.CKA_MODULUS_BITS, 1024), (PyKCS11.CKA_PUBLIC_EXPONENT, (1, 0, 1))],
         {"verify": True}, {"sign": True})
    session.generateKey(secret("des3-crypt", PyKCS11.CKK_DES3, encrypt=True, decrypt=True),
                        PyKCS11.Mechanism(PyKCS11.CKM_DES3_KEY_GEN, None))


def find(session, label, cls=PyKCS11.CKO_SECRET_KEY):
    found = session.findObjects([(PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_CLASS, cls)])
    if len(found) != 1:
        sys.exit(f"p11_keys: {len(found)} keys labelled {label}")
    return found[0]


def outcome(fn):
    try:
        fn()
    except PyKCS11.PyKCS11Error as e:
        return PyKCS11.CKR[e.value]
    return "CKR_OK"


def use(session):
    bad = find(session, "aes-wrap-decrypt")
    imported = find(session, "aes-imported-wrap")
    clean = find(session, "aes-clean")
    target = find(session, "aes-extractable")
    cbc = PyKCS11.Mechanism(PyKCS11.CKM_AES_CBC, bytes(16))
    kw = PyKCS11.Mechanism(PyKCS11.CKM_AES_KEY_WRAP, None)
    data = bytes(range(16))
    return {
        "decrypt_wrap_decrypt_key": outcome(lambda: session.decrypt(bad, data, cbc)),
        "encrypt_wrap_decrypt_key": outcome(lambda: session.encrypt(bad, data, cbc)),
        "wrap_with_wrap_decrypt_key": outcome(lambda: session.wrapKey(bad, target, kw)),
        "wrap_with_imported_key": outcome(lambda: session.wrapKey(imported, target, kw)),
        "encrypt_clean_key": outcome(lambda: session.encrypt(clean, data, cbc)),
        "decrypt_clean_key": outcome(lambda: session.decrypt(clean, data, cbc)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("action", choices=("create", "use"))
    opts = parser.parse_args()
    _, session = open_token(opts.module, opts.token)
    if opts.action == "create":
        create(session)
        result = {"created": sorted(KEYS)}
    else:
        result = use(session)
    session.logout()
    session.closeSession()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
