"""The errors protocol/ raises: each names the message, the field and the limit at fault."""

from lienthong.crypto.errors import LienthongError


class ProtocolError(LienthongError):
    """Bytes or values that are not a valid lienthong message."""


class DecodeError(ProtocolError):
    """The bytes are not well-formed msgpack of the expected shape."""


class LimitExceeded(DecodeError):
    """A size or count is above a named limit of protocol.limits."""


class InvalidField(DecodeError):
    """A field is missing, unknown, of the wrong type or out of range."""

    def __init__(self, what: str, field: str, reason: str) -> None:
        super().__init__(f"{what}: field {field!r}: {reason}")
        self.what = what
        self.field = field
        self.reason = reason


class UnknownVersion(ProtocolError):
    """The message declares a protocol version this node does not speak."""


class UnknownKind(ProtocolError):
    """The message declares a kind other than the one expected here."""


class BadSignature(ProtocolError):
    """The signature does not verify with the signer's key in this domain."""


class UnknownSigner(ProtocolError):
    """No key is known for the claimed signer (unit code and certificate serial)."""


class SignerMismatch(ProtocolError):
    """The signer named outside the signed bytes differs from the one inside them."""


class NotARecipient(ProtocolError):
    """This unit is not among the envelope's recipients, so it holds no content key."""


class Expired(ProtocolError):
    """A certificate or directory is outside its validity period."""


class Revoked(ProtocolError):
    """A certificate serial is listed as revoked in the directory."""


class Rollback(ProtocolError):
    """A directory is older than one already seen."""


class ClockSkew(ProtocolError):
    """A message dated too far in the future for the receiver's clock tolerance."""


class MissingBlobs(ProtocolError):
    """The envelope's attachment blobs have not all been uploaded yet (retry after upload)."""

    def __init__(self, blob_ids: list[str]) -> None:
        super().__init__(f"attachment blobs not uploaded yet: {', '.join(blob_ids)}")
        self.blob_ids = blob_ids
