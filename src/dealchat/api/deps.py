"""What routers take from the app: the platform (built once by create_app)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dealchat.conversations.context import Desk
from dealchat.settings import Settings


@dataclass(frozen=True)
class Platform:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    desk: Desk


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]
