"""Structure: the services and the data layer never import ``discord``, the cogs reach the
data only through the services, the bot never depends on the emulator, the emulator never on
the bot; every module says what it is for."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_LAYER = [ROOT / "bot" / "db", ROOT / "bot" / "errors.py", ROOT / "bot" / "parsing.py"]
SERVICES = [ROOT / "bot" / "services"]
# What the Discord-facing code may import from the data layer: models and types, no queries.
DATA_TYPES = {"bot.db", "bot.db.models", "bot.db.types", "bot.db.errors"}


def _python_files(*places: Path) -> list[Path]:
    files: list[Path] = []
    for place in places:
        files += [place] if place.is_file() else sorted(place.rglob("*.py"))
    return files


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_services_and_data_layer_source_never_import_discord() -> None:
    files = _python_files(*DATA_LAYER, *SERVICES)
    assert len(files) >= 12
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.split(".")[0] in ("discord", "cogs")
        )
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_data_layer_loads_no_discord() -> None:
    """Also catches an indirect import through another module."""
    code = (
        "import sys, bot.db, bot.db.users, bot.db.posts, bot.db.command_syncs, bot.db.migrate, "
        "bot.errors, bot.services.profiles, bot.services.posts, bot.services.command_sync; print(sorted(m for m in sys.modules if m == 'discord' or m.startswith('discord.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for path in _python_files(ROOT / "bot", ROOT / "cogs", ROOT / "tools", ROOT / "reliability")
        if ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert missing == []


def test_cogs_never_build_sql() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _python_files(ROOT / "cogs")
        if any(m.split(".")[0] == "sqlalchemy" for m in _imported_modules(path))
    ]
    assert offenders == []


def test_the_discord_facing_code_reaches_the_data_through_services() -> None:
    places = [ROOT / "cogs", ROOT / "bot"]
    facing = [
        p
        for p in _python_files(*places)
        if not p.is_relative_to(ROOT / "bot" / "db")
        and not p.is_relative_to(ROOT / "bot" / "services")
    ]
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.startswith("bot.db") and m not in DATA_TYPES
        )
        for path in facing
    }
    # The command line migrates and reports database errors; nothing else reaches past.
    allowed = {"bot/cli.py": ["bot.db.migrate"]}
    assert {k: v for k, v in offenders.items() if v and allowed.get(k) != v} == {}


def test_the_emulator_knows_discord_not_the_bot() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.split(".")[0] in ("bot", "cogs", "tools")
        )
        for path in _python_files(ROOT / "sandbox")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def _module_level_imports(path: Path) -> set[str]:
    """Imports run when the module is imported (not those inside a function)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        pending.extend(ast.iter_child_nodes(node))
    return names


def test_the_bot_never_imports_the_emulator_and_the_sandbox_chat_only_on_demand() -> None:
    files = _python_files(ROOT / "bot", ROOT / "cogs")
    never = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.split(".")[0] in ("sandbox", "rich")
        )
        for path in files
    }
    assert {k: v for k, v in never.items() if v} == {}
    on_import = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _module_level_imports(path) if m.split(".")[0] == "tools"
        )
        for path in files
    }
    assert {k: v for k, v in on_import.items() if v} == {}


def test_the_bot_never_imports_the_measuring_tools_or_the_tests() -> None:
    """``reliability/`` and ``bench/`` import the bot and the emulator, and the tests import
    ``reliability/`` (its faults and hostile values); the runtime code imports none of them."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m
            for m in _imported_modules(path)
            if m.split(".")[0] in ("reliability", "bench", "tests")
        )
        for path in _python_files(ROOT / "bot", ROOT / "cogs")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    upward = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.split(".")[0] == "tests"
        )
        for path in _python_files(ROOT / "reliability", ROOT / "bench")
    }
    assert {k: v for k, v in upward.items() if v} == {}


def test_what_run_needs_loads_neither_the_emulator_nor_rich() -> None:
    """``python -m bot run`` imports the CLI and the cogs; the sandbox chat is not among them."""
    code = (
        "import importlib, sys, bot.cli, bot.client\n"
        "bot.cli.build_parser().parse_args(['run'])\n"
        "for name in bot.client.extension_names(): importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sandbox', 'tools', 'rich'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
