"""The architecture, enforced: the bridge's parts depend on each other in one direction only, the
translators and wire shapes are pure, and the product never imports the test kit.

    server -> service -> runs -> {translate, upstream, store} -> wire, errors, ids
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "openai_bridge"
PKG = "openai_bridge"

# The bridge's own parts (top-level modules and packages) each part may import.
LEAVES = {"__init__", "errors", "ids", "wire", "logs"}  # __init__ holds only __version__
ALLOWED: dict[str, set[str]] = {
    "__init__": set(),
    "errors": set(),
    "ids": set(),
    "logs": set(),
    "wire": set(),
    "translate": {"wire", "errors"},
    "vault": {"errors"},
    "settings": {"translate", "__init__"},
    "store": LEAVES | {"settings"},
    "upstream": LEAVES | {"settings"},
    "routing": LEAVES | {"settings", "translate", "upstream"},
    "runs": LEAVES | {"translate", "upstream", "store"},
    "service": LEAVES | {"runs", "translate", "upstream", "store", "vault", "settings", "routing"},
    "server": LEAVES | {"service", "runs", "upstream", "store", "vault", "settings", "routing"},
    "supervisor": {"server", "settings", "store", "__init__"},
    "probe": LEAVES | {"settings", "upstream", "translate", "routing"},
    "cli": {"supervisor", "settings", "logs", "probe"},
    "__main__": {"cli"},
    "testing": None,  # the test kit may use anything; nothing may use it
}
# What pure code (translate/, wire/) must not import: I/O, concurrency, clocks, randomness, the web stack.
IMPURE = {"aiohttp", "httpx", "fastapi", "starlette", "uvicorn", "asyncio", "socket", "ssl", "http", "urllib",
          "time", "datetime", "random", "secrets", "uuid", "os", "threading", "concurrent", "subprocess"}
PURE_PARTS = {"translate", "wire"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(module: str, source: str, *, is_package: bool) -> set[str]:
    """Absolute names of every module `source` (the text of `module`) imports, relative imports resolved;
    for `from x import y`, both `x` and `x.y` (y may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def part_of(module: str) -> str | None:
    """`openai_bridge.translate.stream` -> `translate`; None for a module outside the bridge."""
    parts = module.split(".")
    if parts[0] != PKG:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    own = part_of(module)
    assert own is not None
    allowed = ALLOWED.get(own, set())
    found = []
    for name in sorted(imported(module, source, is_package=is_package)):
        other = part_of(name)
        if other is None:
            if own in PURE_PARTS and name.split(".")[0] in IMPURE:
                found.append(f"{module} imports {name}: {own}/ must stay pure")
            continue
        if other == own or other not in ALLOWED:  # itself, or a name inside the package's __init__
            continue
        if other == "testing" and own != "testing":
            found.append(f"{module} imports the test kit ({name})")
        elif allowed is not None and other not in allowed:
            found.append(f"{module} imports {name}: {own} may not depend on {other}")
    return found


def test_every_module_follows_the_layers():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        found += violations(module_name(path), path.read_text(), is_package=path.name == "__init__.py")
    assert found == []


def test_every_part_is_placed_in_the_layers():
    parts = {p.stem if p.is_file() else p.name for p in SRC.iterdir() if p.suffix == ".py" or
             (p.is_dir() and (p / "__init__.py").exists())}
    assert parts <= set(ALLOWED), f"new parts need a place in ALLOWED: {parts - set(ALLOWED)}"


# The checker must catch what it is there to catch: each of these, placed in translate/, is a violation.
BREAKERS = [
    "import aiohttp",
    "import asyncio",
    "from fastapi import FastAPI",
    "import openai_bridge.server.app",
    "from openai_bridge.server import app",
    "from openai_bridge import server",
    "from ... import server",
    "from ...server.app import create_app",
    "from ...upstream.http import HTTPUpstream",
    "from ...testing import FakeUpstream",
    "import time",
]


def test_the_checker_catches_a_translator_that_imports_io_or_upper_layers():
    for line in BREAKERS:
        assert violations("openai_bridge.translate.responses_via_chat.stream", line), line
    assert violations("openai_bridge.translate", "from .. import service", is_package=True)
    assert not violations("openai_bridge.translate.responses_via_chat.stream",
                          "import orjson\nfrom ...wire.responses import Response\nfrom ...errors import BridgeError\n"
                          "from .think import ThinkSplitter")


def test_the_checker_catches_upward_and_test_kit_imports():
    assert violations("openai_bridge.upstream.http", "from ..service.responses import ResponsesService")
    assert violations("openai_bridge.runs.run", "from ..server.sse import SSEResponse")
    assert violations("openai_bridge.service.responses", "from ..testing import FakeUpstream")
    assert not violations("openai_bridge.testing.fake", "from ..server.app import create_app")


def modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def test_importing_the_translators_loads_no_io_or_server_module():
    # orjson (the one third-party module the translators use) loads uuid and datetime itself, to encode them.
    baseline = modules_after("import orjson")
    loaded = modules_after("import openai_bridge.translate") - baseline
    assert f"{PKG}.translate" in loaded
    bad = {m for m in loaded if m.split(".")[0] in IMPURE
           or m.startswith(tuple(f"{PKG}.{p}" for p in ("server", "service", "runs", "upstream", "store", "testing")))}
    assert bad == set()
