"""The error hierarchy. Raised anywhere, rendered to RFC 9457 problem+json in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with the input, where it is (`items[3].qty`) and what to do."""

    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class OpsloomError(Exception):
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __str__(self) -> str:
        lines = [self.detail] + [f"  {e.path}: {e.message}" for e in self.errors]
        return "\n".join(lines)

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.as_json() for e in self.errors]
        body.update(self.extra)
        return body


class BadRequest(OpsloomError):
    pass


class ValidationFailed(OpsloomError):
    status = 422
    title = "Validation failed"
    slug = "validation-failed"

    @classmethod
    def of(cls, errors: list[FieldError], detail: str | None = None) -> ValidationFailed:
        if detail is None:
            detail = errors[0].message if len(errors) == 1 else f"{len(errors)} problems in the input; see 'errors'"
        return cls(detail, errors)


class NotFound(OpsloomError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(OpsloomError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class PreconditionFailed(OpsloomError):
    status = 412
    title = "Precondition failed"
    slug = "precondition-failed"


class PayloadTooLarge(OpsloomError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class UnsupportedMediaType(OpsloomError):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


class PermissionDenied(OpsloomError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class Unauthenticated(OpsloomError):
    status = 401
    title = "Unauthenticated"
    slug = "unauthenticated"


class ServiceUnavailable(OpsloomError):
    """Overloaded for now (no free database connection): the client should retry after `retry_after` seconds."""

    status = 503
    title = "Service unavailable"
    slug = "service-unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after
