"""Both distributions build from this repository: the pure-Python SDK wheel installs alone, with
no compiler on PATH, into a fresh venv and imports nothing outside the standard library; the
server wheel carries everything but the SDK and depends on it."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SDK_VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]

# Runs in the fresh venv: what importing and using the SDK pulls in, and that it never raises.
SDK_USE = """
import json, shutil, sys
before = set(sys.modules)  # the interpreter's own start-up (site hooks included)
import haloscope.sdk as sdk
from haloscope.sdk import observe

sdk.init("http://127.0.0.1:9", "pk-x", "sk-x", flush_interval=0.05)  # nothing listens there

@observe(as_type="llm")
def answer(question):
    return question.upper()

result = answer("why?")
sdk.shutdown(timeout=1.0)
outside = sorted(
    {name.split(".")[0] for name in set(sys.modules) - before}
    - set(sys.stdlib_module_names) - {"haloscope"}
)
try:
    import haloscope.platform  # noqa: F401
    platform = True
except ModuleNotFoundError:
    platform = False
print(json.dumps({"result": result, "outside": outside, "platform": platform,
                  "gcc": shutil.which("gcc") or shutil.which("cc")}))
"""


def _wheel(source: Path, out: Path, env: dict[str, str] | None = None) -> Path:
    before = set(out.glob("*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
        env=env,
    )
    (built,) = set(out.glob("*.whl")) - before
    return built


def _metadata(wheel: Path) -> tuple[list[str], email.message.Message]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        return names, email.message_from_bytes(archive.read(meta))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    return {"sdk": _wheel(REPO / "sdk", out), "server": _wheel(REPO, out)}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_sdk_wheel_is_pure_and_holds_only_the_sdk(wheels: dict[str, Path]) -> None:
    sdk_wheel = wheels["sdk"]
    assert sdk_wheel.name.endswith("-py3-none-any.whl"), sdk_wheel.name
    names, meta = _metadata(sdk_wheel)
    assert meta["Name"] == "haloscope-sdk"
    code = [n for n in names if ".dist-info/" not in n]
    assert code and all(n.startswith("haloscope/sdk/") for n in code), code
    assert not any(n.endswith((".so", ".pyd", ".c")) for n in names)
    required = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert required == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_server_wheel_depends_on_the_sdk_and_does_not_ship_it(
    wheels: dict[str, Path],
) -> None:
    names, meta = _metadata(wheels["server"])
    _, sdk_meta = _metadata(wheels["sdk"])
    assert meta["Name"] == "haloscope"
    assert not any(n.startswith("haloscope/sdk/") for n in names)
    assert "haloscope/platform/composition.py" in names
    required = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert required == [f"haloscope-sdk=={sdk_meta['Version']}"] == SDK_VERSION


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_sdk_wheel_installs_alone_without_a_compiler(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    empty = tmp_path / "no-tools"
    empty.mkdir()
    # No compiler reachable: PATH holds nothing, and no CC is set.
    env = {"PATH": str(empty), "HOME": str(tmp_path), "PIP_NO_INDEX": "1"}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheels["sdk"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    used = subprocess.run(
        [str(python), "-c", SDK_USE], env=env, capture_output=True, text=True, timeout=120
    )
    assert used.returncode == 0, used.stderr
    report = json.loads(used.stdout.strip().splitlines()[-1])
    assert report == {"result": "WHY?", "outside": [], "platform": False, "gcc": None}

    # The server wheel resolves its one required dependency, the SDK, from the same folder.
    server = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--find-links", str(wheels["sdk"].parent)]
        + [str(wheels["server"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert server.returncode == 0, server.stderr
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    installed = {p["name"]: p["version"] for p in json.loads(listed.stdout)}
    assert installed["haloscope-sdk"] == installed["haloscope"] == "0.1.0"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_without_a_compiler_the_server_wheel_builds_pure_and_decodes_otlp_in_python(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    wheel = _wheel(REPO, tmp_path, env=env)
    names, _ = _metadata(wheel)
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    assert not any(n.endswith(".so") for n in names)
    assert "haloscope/platform/ingest/otlp_view.py" in names
