"""The architecture, enforced: the translators are pure and the layers point one way."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "openai_bridge"
IMPURE = {"httpx", "aiohttp", "fastapi", "starlette", "uvicorn", "time", "random", "secrets", "uuid", "asyncio",
          "socket", "datetime", "os"}
# What translate/ and wire/ may import from the bridge itself (DESIGN.md: `-> wire, errors, ids`).
PURE_LAYERS = ("openai_bridge.translate", "openai_bridge.wire", "openai_bridge.errors", "openai_bridge.ids")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, source: str | None = None) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved); `source` stands in for
    the file's text."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
                continue
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                names.add(".".join([*base, node.module]))
            else:  # `from . import x`: x is a module of that package
                names.update(".".join([*base, alias.name]) for alias in node.names)
    return names


def violations(path: Path, source: str | None = None) -> list[str]:
    def bad(name: str) -> bool:
        impure = name.split(".")[0] in IMPURE
        return impure or (name.startswith("openai_bridge") and not name.startswith(PURE_LAYERS))

    return [f"{path.name} imports {name}" for name in sorted(imports(path, source)) if bad(name)]


def test_translate_and_wire_are_pure() -> None:
    checked = [path for folder in ("translate", "wire") for path in sorted((SRC / folder).rglob("*.py"))]
    assert any(p.parent.name == "responses_via_chat" for p in checked), "sub-packages are checked too"
    assert [v for path in checked for v in violations(path)] == []


def test_the_layering_check_catches_a_violation() -> None:
    """The check must fail when someone breaks the rule, from however deep a sub-package."""
    deep = SRC / "translate" / "responses_via_chat" / "request.py"
    source = "from ...service import Bridge\nfrom ... import config\nimport asyncio\nfrom ...errors import X\n"
    found = violations(deep, source)
    assert sorted(found) == ["request.py imports asyncio", "request.py imports openai_bridge.config",
                             "request.py imports openai_bridge.service"]


def test_service_does_not_import_server() -> None:
    assert not any(name.startswith("openai_bridge.server") for name in imports(SRC / "service.py"))
