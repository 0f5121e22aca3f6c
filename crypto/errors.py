"""The root of lienthong's exception hierarchy and the errors of crypto/."""


class LienthongError(Exception):
    """Base of every error lienthong raises on purpose; its message says what was wrong."""


class CryptoError(LienthongError):
    """A cryptographic operation refused its input."""


class SignatureError(CryptoError):
    """A signature does not verify for the given key, domain and bytes."""


class DecryptionError(CryptoError):
    """Ciphertext could not be authenticated or decrypted."""


class TruncatedStreamError(DecryptionError):
    """An attachment stream ended before its final chunk."""


class KeystoreError(CryptoError):
    """A key file is missing, malformed, unreadable or unsafe."""


class WrongPassphraseError(KeystoreError):
    """The passphrase does not open the sealed key file."""


class InsecureKeyFileError(KeystoreError):
    """A key file can be read by other users of the machine."""


class CertificateError(CryptoError):
    """An X.509 certificate or key could not be issued, loaded or checked."""


class InvalidKeyError(CryptoError):
    """A public key has the wrong length or is not a usable curve point."""


class PasswordError(CryptoError):
    """A password is over its length limit, or a stored password hash is malformed."""
