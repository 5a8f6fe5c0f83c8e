"""Wheel build hook: compiles the OTLP decoder's C fast path (scripts/build_extension.py).

For an editable install the module stays beside its source, on the path the install adds;
for a wheel it is added as an artifact and the wheel is tagged for this platform. Without a
compiler, or with ``HALOSCOPE_NO_EXTENSIONS=1``, the wheel is pure Python (OTLP then decodes in
Python).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileExtensions(BuildHookInterface):
    """Compiles ``_otlp_wire`` before the wheel's files are collected."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the module; when it cannot be compiled, warn with the fix and build a
        pure-Python wheel (the server then decodes OTLP in Python)."""
        if self.target_name != "wheel" or os.environ.get("HALOSCOPE_NO_EXTENSIONS") == "1":
            return
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location(
            "build_extension", root / "scripts" / "build_extension.py"
        )
        builder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(builder)
        try:
            module = builder.build(force=True)  # never package a module built elsewhere
        except RuntimeError as exc:  # optional: the wheel stays pure, OTLP decodes in Python
            self.app.display_warning(f"haloscope: OTLP decoder not compiled: {exc}")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["artifacts"].append(module.relative_to(root).as_posix())
