"""The project stands alone: nothing in it reads the brief beside the checkout (`../shared`)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("src", "tests", "bench", "migrations", "docs")
TOP_FILES = ("Makefile", "pyproject.toml", "README.md", "alembic.ini")
# Path spellings that would reach outside the checkout into the brief's folder
OUTSIDE = ("../shared", '"shared" / "corpus"', 'parents[3] / "shared"', "/work/shared")


def _built(path: Path) -> bool:
    """Installed or generated, not the project's own: packages, caches, egg-info."""
    return any(
        part in {"node_modules", "__pycache__"} or part.endswith(".egg-info") for part in path.parts
    )


def _files() -> list[Path]:
    found = [ROOT / name for name in TOP_FILES]
    for folder in SCANNED:
        found += [p for p in (ROOT / folder).rglob("*") if p.is_file() and not _built(p)]
    return [p for p in found if p.suffix not in {".pyc", ".png", ".ndb"} and p != Path(__file__)]


def test_no_file_reaches_outside_the_checkout() -> None:
    hits = []
    for path in _files():
        text = path.read_text(encoding="utf-8", errors="ignore")
        hits += [f"{path.relative_to(ROOT)}: {s}" for s in OUTSIDE if s in text]
    assert hits == []


def test_the_spec_and_corpora_are_in_the_repository() -> None:
    assert "## Version 2" in (ROOT / "docs" / "NLU.md").read_text(encoding="utf-8")
    for name in ("nlu_dev.jsonl", "nlu_dev_v2.jsonl"):
        assert (ROOT / "tests" / "data" / name).stat().st_size > 1000
