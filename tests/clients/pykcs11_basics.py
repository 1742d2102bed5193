"""Session and object basics through PyKCS11 (Debian's python3-pykcs11).

Run by test_pykcs11.sh with HSMUX_TEST_MODULE, HSMUX_TEST_TOKEN and
HSMUX_TEST_PIN set and the token already initialized. Expected values come
from Python's hashlib and from the openssl command line, never from the module.
"""

import hashlib
import os
import subprocess
import unittest

import PyKCS11
from PyKCS11 import LowLevel

MODULE = os.environ["HSMUX_TEST_MODULE"]
TOKEN = os.environ["HSMUX_TEST_TOKEN"]
PIN = os.environ["HSMUX_TEST_PIN"]

AES_KEY = bytes(range(16))
AES_IV = bytes(range(16, 32))
PLAINTEXT = b"hsmux PyKCS11 known-answer plaintext, 47 bytes."


def openssl_aes_cbc(key, iv, data):
    """Encrypt with AES-128-CBC and PKCS#7 padding using the openssl command."""
    out = subprocess.run(
        ["openssl", "enc", "-aes-128-cbc", "-K", key.hex(), "-iv", iv.hex()],
        input=data, capture_output=True, check=True)
    return out.stdout


class PyKCS11Basics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pkcs11 = PyKCS11.PyKCS11Lib()
        cls.pkcs11.load(MODULE)
        cls.slot = None
        for slot in cls.pkcs11.getSlotList(tokenPresent=True):
            if cls.pkcs11.getTokenInfo(slot).label.strip() == TOKEN:
                cls.slot = slot
        if cls.slot is None:
            raise AssertionError(f"token '{TOKEN}' not found in {MODULE}")

    @classmethod
    def tearDownClass(cls):
        cls.pkcs11.closeAllSessions(cls.slot)

    def open_user_session(self):
        session = self.pkcs11.openSession(
            self.slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
        self.addCleanup(session.closeSession)
        session.login(PIN)
        self.addCleanup(session.logout)
        return session

    def test_info_reports_version(self):
        info = self.pkcs11.getInfo()
        self.assertIn(info.cryptokiVersion[0], (2, 3))
        self.assertTrue(info.manufacturerID.strip())

    def test_token_info_flags(self):
        info = self.pkcs11.getTokenInfo(self.slot)
        self.assertEqual(info.label.strip(), TOKEN)
        self.assertTrue(info.flags & PyKCS11.CKF_TOKEN_INITIALIZED)
        self.assertTrue(info.flags & PyKCS11.CKF_USER_PIN_INITIALIZED)
        self.assertTrue(info.flags & PyKCS11.CKF_LOGIN_REQUIRED)

    def test_mechanism_list_has_basics(self):
        mechanisms = self.pkcs11.getMechanismList(self.slot)
        for name in ("CKM_SHA256", "CKM_AES_CBC_PAD", "CKM_ECDSA", "CKM_RSA_PKCS"):
            self.assertIn(name, mechanisms)

    def test_session_states_follow_login(self):
        session = self.pkcs11.openSession(
            self.slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
        self.addCleanup(session.closeSession)
        self.assertEqual(session.getSessionInfo().state, PyKCS11.CKS_RW_PUBLIC_SESSION)

        session.login(PIN)
        self.assertEqual(session.getSessionInfo().state, PyKCS11.CKS_RW_USER_FUNCTIONS)

        session.logout()
        self.assertEqual(session.getSessionInfo().state, PyKCS11.CKS_RW_PUBLIC_SESSION)

    def test_read_only_session_state(self):
        session = self.pkcs11.openSession(self.slot, PyKCS11.CKF_SERIAL_SESSION)
        self.addCleanup(session.closeSession)
        self.assertEqual(session.getSessionInfo().state, PyKCS11.CKS_RO_PUBLIC_SESSION)

    def test_wrong_pin_rejected(self):
        session = self.pkcs11.openSession(self.slot, PyKCS11.CKF_SERIAL_SESSION)
        self.addCleanup(session.closeSession)
        with self.assertRaises(PyKCS11.PyKCS11Error) as caught:
            session.login(PIN + "0")
        self.assertEqual(caught.exception.value, PyKCS11.CKR_PIN_INCORRECT)

    def test_closed_session_handle_invalid(self):
        session = self.pkcs11.openSession(self.slot, PyKCS11.CKF_SERIAL_SESSION)
        session.closeSession()
        with self.assertRaises(PyKCS11.PyKCS11Error) as caught:
            session.getSessionInfo()
        self.assertEqual(caught.exception.value, PyKCS11.CKR_SESSION_HANDLE_INVALID)

    def test_data_object_lifecycle(self):
        session = self.open_user_session()
        value = b"hsmux data object value"
        handle = session.createObject([
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_DATA),
            (PyKCS11.CKA_TOKEN, PyKCS11.CK_TRUE),
            (PyKCS11.CKA_PRIVATE, PyKCS11.CK_TRUE),
            (PyKCS11.CKA_LABEL, "pykcs11-data"),
            (PyKCS11.CKA_VALUE, value),
        ])

        found = session.findObjects([(PyKCS11.CKA_LABEL, "pykcs11-data")])
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0].value(), handle.value())
        read = session.getAttributeValue(handle, [PyKCS11.CKA_VALUE, PyKCS11.CKA_CLASS])
        self.assertEqual(bytes(read[0]), value)
        self.assertEqual(read[1], PyKCS11.CKO_DATA)

        session.setAttributeValue(handle, [(PyKCS11.CKA_LABEL, "pykcs11-renamed")])
        self.assertEqual(len(session.findObjects([(PyKCS11.CKA_LABEL, "pykcs11-data")])), 0)
        self.assertEqual(len(session.findObjects([(PyKCS11.CKA_LABEL, "pykcs11-renamed")])), 1)

        session.destroyObject(handle)
        self.assertEqual(len(session.findObjects([(PyKCS11.CKA_LABEL, "pykcs11-renamed")])), 0)

    def test_private_object_hidden_without_login(self):
        session = self.open_user_session()
        session.createObject([
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_DATA),
            (PyKCS11.CKA_TOKEN, PyKCS11.CK_TRUE),
            (PyKCS11.CKA_PRIVATE, PyKCS11.CK_TRUE),
            (PyKCS11.CKA_LABEL, "pykcs11-private"),
        ])
        template = [(PyKCS11.CKA_LABEL, "pykcs11-private")]

        public = self.pkcs11.openSession(self.slot, PyKCS11.CKF_SERIAL_SESSION)
        self.addCleanup(public.closeSession)
        # Login state is per token, so the second session finds the object too.
        self.assertEqual(len(public.findObjects(template)), 1)
        session.logout()
        self.assertEqual(len(public.findObjects(template)), 0)

        # Object handles may change across logout, so look the object up again.
        session.login(PIN)
        found = session.findObjects(template)
        self.assertEqual(len(found), 1)
        session.destroyObject(found[0])

    def test_sha256_digest_matches_hashlib(self):
        session = self.pkcs11.openSession(self.slot, PyKCS11.CKF_SERIAL_SESSION)
        self.addCleanup(session.closeSession)
        data = os.urandom(3000)
        digest = session.digest(data, PyKCS11.Mechanism(PyKCS11.CKM_SHA256))
        self.assertEqual(bytes(digest), hashlib.sha256(data).digest())

    def test_aes_cbc_pad_matches_openssl(self):
        session = self.open_user_session()
        key = session.createObject([
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
            (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
            (PyKCS11.CKA_TOKEN, PyKCS11.CK_FALSE),
            (PyKCS11.CKA_ENCRYPT, PyKCS11.CK_TRUE),
            (PyKCS11.CKA_DECRYPT, PyKCS11.CK_TRUE),
            (PyKCS11.CKA_VALUE, AES_KEY),
        ])
        mechanism = PyKCS11.Mechanism(PyKCS11.CKM_AES_CBC_PAD, AES_IV)

        ciphertext = bytes(session.encrypt(key, PLAINTEXT, mechanism))
        self.assertEqual(ciphertext, openssl_aes_cbc(AES_KEY, AES_IV, PLAINTEXT))
        self.assertEqual(bytes(session.decrypt(key, ciphertext, mechanism)), PLAINTEXT)

    def test_session_object_gone_after_close(self):
        session = self.pkcs11.openSession(
            self.slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
        session.createObject([
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_DATA),
            (PyKCS11.CKA_TOKEN, PyKCS11.CK_FALSE),
            (PyKCS11.CKA_PRIVATE, PyKCS11.CK_FALSE),
            (PyKCS11.CKA_LABEL, "pykcs11-session-object"),
        ])
        self.assertEqual(len(session.findObjects(
            [(PyKCS11.CKA_LABEL, "pykcs11-session-object")])), 1)
        session.closeSession()

        other = self.pkcs11.openSession(self.slot, PyKCS11.CKF_SERIAL_SESSION)
        self.addCleanup(other.closeSession)
        self.assertEqual(len(other.findObjects(
            [(PyKCS11.CKA_LABEL, "pykcs11-session-object")])), 0)

    def test_generate_random_length(self):
        session = self.pkcs11.openSession(self.slot, PyKCS11.CKF_SERIAL_SESSION)
        self.addCleanup(session.closeSession)
        first = bytes(session.generateRandom(32))
        second = bytes(session.generateRandom(32))
        self.assertEqual(len(first), 32)
        self.assertNotEqual(first, second)

    def test_get_attribute_value_size_query(self):
        # C_GetAttributeValue with a NULL buffer returns the length first.
        # PyKCS11's low-level call exposes that step.
        session = self.open_user_session()
        value = b"x" * 100
        handle = session.createObject([
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_DATA),
            (PyKCS11.CKA_TOKEN, PyKCS11.CK_FALSE),
            (PyKCS11.CKA_VALUE, value),
        ])
        template = LowLevel.ckattrlist(1)
        template[0].SetType(PyKCS11.CKA_VALUE)
        rv = self.pkcs11.lib.C_GetAttributeValue(session.session, handle, template)
        self.assertEqual(rv, PyKCS11.CKR_OK)
        self.assertEqual(template[0].GetLen(), len(value))


if __name__ == "__main__":
    unittest.main(verbosity=2)
