"""What the centre refuses: one error class per reason, each with the HTTP status it maps to.

The API answers `{"error": <class name>, "message": ...}` (docs/FEDERATION.md, "Refusals").
"""

from __future__ import annotations

from lienthong.crypto.errors import LienthongError


class CentreError(LienthongError):
    """A centre operation refused; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, subject: str = "-") -> None:
        super().__init__(message)
        self.subject = subject  # the unit code concerned, for the audit log


class MalformedRequest(CentreError):
    """The registration request does not decode, or a field of it is unusable."""


class RequestTooLarge(CentreError):
    status = 413


class RequestSignature(CentreError):
    """The request is not signed by the key it carries (it was altered or signed by another)."""

    status = 403


class UnknownToken(CentreError):
    status = 403


class WrongToken(CentreError):
    """The request names a token but its MAC was not made with that token's secret."""

    status = 403


class CodeMismatch(CentreError):
    status = 403


class UnitRevoked(CentreError):
    status = 403


class UnknownUnit(CentreError):
    status = 403


class UnknownCertificate(CentreError):
    status = 403


class RotationSignature(CentreError):
    """A key rotation not signed by the key of the certificate it replaces."""

    status = 403


class TokenUsed(CentreError):
    status = 409


class StaleCertificate(CentreError):
    status = 409


class UnitExists(CentreError):
    status = 409


class NothingToApprove(CentreError):
    status = 409


class TokenExpired(CentreError):
    status = 410


class TokenCancelled(CentreError):
    status = 410


class RenewalTooLate(CentreError):
    """A renewal from a certificate that ended longer ago than the grace period allows: the
    unit enrols again with a new token."""

    status = 410
