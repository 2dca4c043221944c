"""The architecture, enforced: the translators are pure and the layers point one way."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "openai_bridge"
IMPURE = {"httpx", "fastapi", "starlette", "uvicorn", "time", "random", "secrets", "uuid", "asyncio", "socket",
          "datetime", "os"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


def test_translate_and_wire_are_pure():
    for folder in ("translate", "wire"):
        for path in (SRC / folder).glob("*.py"):
            for name in imports(path):
                assert name.split(".")[0] not in IMPURE, f"{path.name} imports {name}"
                assert not name.startswith(("..server", "..service", "..upstream", "..config")), \
                    f"{path.name} imports {name}"


def test_service_does_not_import_server():
    assert not any("server" in name for name in imports(SRC / "service.py"))
