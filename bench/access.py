"""What `require(...)` costs per request: the same app, the same TestClient, in one run.

- baseline: `GET /healthz` (public: no login, no decision, one `SELECT 1`);
- signed in: `GET /api/v1/auth/whoami` with an API token (token lookup, the actor's grants, the
  decision appended to the audit log, commit);
- denied: the same call without the right it would need (`GET /api/v1/admin/roles`: 403, the
  denial committed on its own).

Requests/s of each, median of three rounds, and the ratio to the baseline, on SQLite (WAL,
synchronous=FULL). Writes bench/results/access.json.
"""

from __future__ import annotations

import datetime as dt
import json
import platform as host
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from dealchat.access import service as access
from dealchat.app import build_platform, create_app
from dealchat.db.session import unit_of_work
from dealchat.identity import sessions
from dealchat.identity.service import create_user
from dealchat.settings import Settings

HERE = Path(__file__).resolve().parent
REQUESTS = 300
ROUNDS = 3


def _rate(client: TestClient, path: str, headers: dict[str, str], status: int) -> float:
    started = time.perf_counter()
    for _ in range(REQUESTS):
        response = client.get(path, headers=headers)
        assert response.status_code == status, response.text
    return REQUESTS / (time.perf_counter() - started)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "var")
        built = build_platform(settings)
        with unit_of_work(built.sessions) as session:
            user = create_user(
                session,
                sealer=built.desk.sealer,
                username="bench",
                password=secrets.token_urlsafe(16),
                kind="internal",
                totp_secret=None,
                actor="bench",
            )
            access.seed_defaults(session)
            access.assign(session, actor=access.system_actor(), role="dealer", username="bench")
            _, token = sessions.issue_token(
                session,
                user=user,
                name="bench",
                by="bench",
                policy=built.session_policy,
                now=dt.datetime.now(dt.UTC),
            )
        bearer = {"Authorization": f"Bearer {token}"}
        cases = {
            "baseline_healthz": ("/healthz", {}, 200),
            "signed_in_whoami": ("/api/v1/auth/whoami", bearer, 200),
            "denied_admin_roles": ("/api/v1/admin/roles", bearer, 403),
        }
        rates: dict[str, list[float]] = {name: [] for name in cases}
        with TestClient(create_app(platform=built)) as client:
            for _ in range(ROUNDS):
                for name, (path, headers, status) in cases.items():
                    rates[name].append(_rate(client, path, headers, status))
        built.engine.dispose()
    medians = {name: round(statistics.median(values), 1) for name, values in rates.items()}
    base = medians["baseline_healthz"]
    result = {
        "requests_per_round": REQUESTS,
        "rounds": ROUNDS,
        "requests_per_second_median": medians,
        "ratio_to_baseline": {name: round(value / base, 3) for name, value in medians.items()},
        "python": sys.version.split()[0],
        "machine": host.machine(),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "access.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
