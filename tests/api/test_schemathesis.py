"""Finding 7: no 500s. Schemathesis generates requests from the OpenAPI schema, valid and broken
(NUL bytes, lone surrogates, integers past 64 bits, wrong types, odd strings), a bounded number
per operation, sent by an administrator holding every right; no answer may be a server error.
On SQLite and PostgreSQL. Runtime is bounded by MAX_EXAMPLES (a few per operation)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from tests.factories.access import token_for
from tests.factories.identity import make_user

MAX_EXAMPLES = 10  # valid and invalid, per operation and database: ~1,000 requests in all


@pytest.fixture
def admin_headers(platform: Platform) -> dict[str, str]:
    admin = make_user(platform, "fuzz-admin", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="admin", username=admin.username)
    return {"Authorization": f"Bearer {token_for(platform, admin.id)}"}


def _server_errors(operation: Any, headers: dict[str, str]) -> str | None:
    """Hypothesis over this operation's valid and invalid requests; the first server error."""
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])

    try:
        check()
    except Exception as error:  # a failing example: name the operation and what it sent
        return f"{operation.label}: {type(error).__name__}: {str(error)[:600]}"
    return None


def test_no_operation_answers_a_server_error(
    platform: Platform, admin_headers: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(platform=platform))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    failures = [
        found for operation in operations if (found := _server_errors(operation, admin_headers))
    ]
    assert not failures, "\n\n".join(failures)
