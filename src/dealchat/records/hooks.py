"""After-record hooks: other domains (surveillance) see each entry as it is recorded.

Records depends on nobody; the app installs callbacks on its session factory with `install`, and
`records.service` calls them with each entry as it is recorded, inside the same transaction (before
the entry has its place in the tree: that comes at commit).
A hook that must not run on rollback queues its work with `db.session.after_commit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from dealchat.records.leaf import Queued

# Each `Queued` has the entry's at, event, actor, subject and payload (canonical JSON).
AfterRecord = Callable[[Session, Sequence["Queued"]], None]
_KEY = "dealchat_after_record"


def install(factory: sessionmaker[Session], hook: AfterRecord) -> None:
    """Call `hook(session, entries)` after every append made in sessions of `factory`."""
    info = factory.kw.setdefault("info", {})
    info.setdefault(_KEY, []).append(hook)


def run_after_record(session: Session, entries: Sequence[Queued]) -> None:
    hooks: list[AfterRecord] = session.info.get(_KEY, [])
    for hook in hooks:
        hook(session, entries)
