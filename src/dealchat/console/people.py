"""Who a row or an audit entry names, as a person at the console reads it: 'Dan Lee (dealer)'
rather than an opaque id. The audit log keeps the ids; only the page shows the names."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dealchat.identity.models import User

USER = "user:"  # how an audit entry names a bank user or a client who acted (`Actor.audit_name`)


def shown(db: Session, user_id: str) -> str:
    """'Dan Lee (dealer)', the username alone without a display name, the id if no such user."""
    user = db.get(User, user_id)
    if user is None:
        return user_id
    if user.display_name and user.display_name != user.username:
        return f"{user.display_name} ({user.username})"
    return user.username


def actor(db: Session, name: str) -> str:
    """An audit entry's actor: a user by name; anything else (`bot`, `surveillance`,
    `system:controls`) as it is."""
    return shown(db, name.removeprefix(USER)) if name.startswith(USER) else name
