"""The arrows between components hold: every import in every module (lazy ones included) is
checked against the layer rules of docs/architecture.md."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMPONENTS = ("sdk", "inference", "evaluators", "platform", "web")
# Which other Haloscope components each one may import.
MAY_IMPORT = {
    "sdk": set(),
    "inference": set(),
    "evaluators": {"inference"},
    "platform": {"evaluators", "inference", "sdk"},
    "web": {"platform"},
}
COMPOSITION_ROOT = "haloscope.platform.composition"
# Compiled extension modules are private to their package, not to one module.
EXTENSION_MODULES = {"_otlp_wire"}


def _modules() -> Iterator[tuple[str, str, Path]]:
    """(component, dotted module name, path) of every module of every component."""
    for component in COMPONENTS:
        base = REPO / component
        for path in sorted((base / "haloscope" / component).rglob("*.py")):
            dotted = ".".join(path.relative_to(base).with_suffix("").parts)
            yield component, dotted.removesuffix(".__init__"), path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import statement in the file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _violations() -> list[str]:
    found = []
    for component, module, path in _modules():
        if module == COMPOSITION_ROOT:
            continue
        for line, imported in _imports(path):
            parts = imported.split(".")
            where = f"{path.relative_to(REPO)}:{line} imports {imported}"
            if parts[0] == "haloscope":
                target = parts[1] if len(parts) > 1 else ""
                if target != component and target not in MAY_IMPORT[component]:
                    found.append(
                        f"{where} ({component} may import {sorted(MAY_IMPORT[component])})"
                    )
            elif (
                component == "sdk"
                and parts[0] not in sys.stdlib_module_names
                # An integration imports the library it instruments, which the user has.
                and not module.startswith(f"haloscope.sdk.integrations.{parts[0]}")
            ):
                found.append(f"{where} (the SDK imports the standard library only)")
    return found


def test_every_component_imports_only_what_its_layer_allows() -> None:
    assert _violations() == []


def test_only_the_composition_root_imports_the_dashboard_from_the_platform() -> None:
    root = REPO / "platform" / "haloscope" / "platform" / "composition.py"
    assert any(name.startswith("haloscope.web") for _, name in _imports(root))


def test_private_names_are_not_imported_across_modules() -> None:
    """A leading underscore means "this module only": shared helpers get public names."""
    found = []
    for _, _, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("haloscope"):
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_")
                    and not a.name.startswith("__")
                    and a.name not in EXTENSION_MODULES
                ]
                if private:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {private}")
    assert found == []


@pytest.mark.parametrize(
    ("component", "source", "allowed"),
    [
        ("web", "from haloscope.evaluators import list_evaluators", False),
        ("web", "from haloscope.platform.jobs import rules", True),
        ("inference", "import haloscope.evaluators.judge", False),
        ("sdk", "import httpx", False),
        ("evaluators", "from haloscope.inference import JudgeEngine", True),
    ],
)
def test_the_rules_catch_a_bent_arrow(
    tmp_path: Path, component: str, source: str, allowed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker itself: a module that bends an arrow is reported, a lawful one is not."""
    fake_repo = tmp_path
    folder = fake_repo / component / "haloscope" / component
    folder.mkdir(parents=True)
    (folder / "bent.py").write_text(source + "\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", fake_repo)
    monkeypatch.setattr(sys.modules[__name__], "COMPONENTS", (component,))
    assert (_violations() == []) is allowed
