"""The checks every surveillance service starts with, raising errors with stable codes."""

from __future__ import annotations

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.errors import DealchatError, ErrorCode


def check(actor: Actor, right: Right) -> None:
    """Deny by default: FORBIDDEN unless `actor` holds `right`."""
    decision = can(actor, right)
    if not decision:
        raise DealchatError(
            ErrorCode.FORBIDDEN,
            f"needs {right.value}",
            http_status=403,
            data={"right": right.value, "rule": decision.rule},
        )


def check_any(actor: Actor, *rights: Right) -> None:
    if not any(can(actor, right) for right in rights):
        raise DealchatError(
            ErrorCode.FORBIDDEN,
            f"needs one of {', '.join(right.value for right in rights)}",
            http_status=403,
        )


def bad(message: str, **data: object) -> DealchatError:
    return DealchatError(ErrorCode.BAD_REQUEST, message, http_status=400, data=dict(data))


def missing(message: str) -> DealchatError:
    return DealchatError(ErrorCode.NOT_FOUND, message, http_status=404)


def conflict(message: str, **data: object) -> DealchatError:
    return DealchatError(ErrorCode.CONFLICT, message, http_status=409, data=dict(data))


def forbidden(message: str) -> DealchatError:
    return DealchatError(ErrorCode.FORBIDDEN, message, http_status=403)
