"""The errors of bootstrap/: why enrolment, rotation or a directory fetch was refused."""

from lienthong.crypto.errors import LienthongError


class BootstrapError(LienthongError):
    """Joining the federation or keeping its directory up to date failed."""


class InvalidToken(BootstrapError):
    """The enrolment token is not of the form `<token_id>.<secret>` the centre prints."""


class FingerprintMismatch(BootstrapError):
    """The centre's CA key is not the root key whose fingerprint was pinned."""


class CentreUnreachable(BootstrapError):
    """The centre could not be reached, or its answer was cut short or unreadable."""


class FetchFailed(BootstrapError):
    """A directory could not be fetched from the centre or a peer (network or HTTP error)."""


class CentreRefused(BootstrapError):
    """The centre answered a request with a refusal (4xx or 5xx) naming the reason."""

    def __init__(self, message: str, *, status: int, error: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class AnswerRejected(BootstrapError):
    """The centre's answer does not hold for our keys: wrong keys, wrong CA, bad directory."""


class CacheInvalid(BootstrapError):
    """The directory cached in the store does not verify against the pinned root key."""


class NotEnrolled(BootstrapError):
    """The data directory lacks what enrolment writes (certificate, TLS files, pinned CA)."""


class AlreadyEnrolled(BootstrapError):
    """Enrolment would overwrite the certificate of a node that is already enrolled."""
