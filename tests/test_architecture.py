"""The import directions of ARCHITECTURE.md, checked over the source so they cannot rot."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dealchat"
PLATFORMS = ("webchat", "matrix", "slack", "teams", "telegram", "whatsapp", "wechat")
# Packages that are pure leaves: no I/O layers and no other domain.
PURE = {"nlu": set()}
# Pure modules inside packages that also have I/O layers: they import only their own package.
PURE_MODULES = (
    "access/policy.py",
    "access/rights.py",
    "controls/definitions.py",
    "controls/calendars.py",
    "controls/engine.py",
    "controls/history.py",
    "documents/sniff.py",
    "pricing/dealer.py",
    "records/merkle.py",
    "records/leaf.py",
    "records/notes.py",
    "records/cosignature.py",
    "records/offline.py",
    "surveillance/text.py",
    "surveillance/query.py",
    "surveillance/lexicon.py",
    "surveillance/policies.py",
)
# Lower layers must never import the layers above them.
NEVER_IMPORTS = {
    "records": {
        "surveillance",
        "conversations",
        "orders",
        "identity",
        "access",
        "channels",
        "api",
        "console",
        "cli",
    },
    "db": {"records", "conversations", "orders", "identity", "channels", "api", "cli"},
    "orders": {"conversations", "channels", "api", "console", "cli"},
    "identity": {"conversations", "orders", "channels", "console", "cli"},
    "pricing": {"conversations", "orders", "identity", "channels", "api", "cli"},
    "execution": {"conversations", "orders", "identity", "channels", "api", "cli"},
    "conversations": {"api", "console", "cli"},
    "surveillance": {"conversations", "channels", "api", "console", "cli"},
    "documents": {"conversations", "orders", "channels", "api", "console", "cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {name for name in found if name.startswith("dealchat")}


def _domain(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _package_files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def test_pure_packages_import_no_other_domain() -> None:
    for package, allowed in PURE.items():
        for path in _package_files(package):
            foreign = {m for m in _imports(path) if _domain(m) not in {package, *allowed}}
            assert not foreign, f"{path.relative_to(SRC)} imports {sorted(foreign)}"


def test_pure_modules_import_only_their_own_package() -> None:
    for name in PURE_MODULES:
        path = SRC / name
        package = name.split("/")[0]
        foreign = {m for m in _imports(path) if _domain(m) != package}
        assert not foreign, f"{name} imports {sorted(foreign)}"
        assert "sqlalchemy" not in path.read_text(encoding="utf-8"), f"{name} touches the database"


def test_lower_layers_never_import_upper_layers() -> None:
    for package, banned in NEVER_IMPORTS.items():
        for path in _package_files(package):
            bad = {m for m in _imports(path) if _domain(m) in banned}
            assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


def test_the_core_never_imports_a_platform_folder() -> None:
    for path in SRC.rglob("*.py"):
        inside = path.relative_to(SRC).parts
        if inside[0] in ("channels", "app.py", "cli"):
            continue
        for module in _imports(path):
            parts = module.split(".")
            assert not (len(parts) > 2 and parts[1] == "channels" and parts[2] in PLATFORMS), (
                f"{path.relative_to(SRC)} imports the platform module {module}"
            )


def test_platform_folders_enter_the_core_only_through_handle_inbound() -> None:
    core = {"orders", "identity", "pricing", "execution", "nlu"}
    for platform in PLATFORMS:
        for path in (
            _package_files(f"channels/{platform}") if (SRC / "channels" / platform).exists() else []
        ):
            reached = {m for m in _imports(path) if _domain(m) in core}
            assert not reached, f"{path.relative_to(SRC)} bypasses the desk: {sorted(reached)}"
