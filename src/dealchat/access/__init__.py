"""Access: rights, grants with attribute conditions, and `can(actor, right, resource)`."""

from dealchat.access.policy import Actor, Decision, Grant, can, can_grant
from dealchat.access.rights import CLIENT_RIGHTS, Right

__all__ = ["CLIENT_RIGHTS", "Actor", "Decision", "Grant", "Right", "can", "can_grant"]
