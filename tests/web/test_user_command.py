"""``haloscope user create`` in a real subprocess against a SQLite metadata DB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from haloscope.platform.auth.users import authenticate, projects_for_user
from haloscope.platform.db.engine import make_engine, make_sessionmaker


def _haloscope(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HALOSCOPE_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "haloscope.platform.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_user_create_with_password_on_stdin_and_a_membership(tmp_path: Path) -> None:
    assert _haloscope(tmp_path, "project", "create", "shop").returncode == 0
    done = _haloscope(
        tmp_path,
        *("user", "create", "--email", "Ana@Example.com", "--password-stdin"),
        *("--project", "shop", "--role", "viewer"),
        stdin="s3cret-passphrase\n",
    )
    assert done.returncode == 0, done.stderr
    assert "ana@example.com" in done.stdout and "viewer of project 'shop'" in done.stdout
    sessions = make_sessionmaker(make_engine(f"sqlite:///{tmp_path / 'haloscope.db'}"))
    with sessions() as db:
        user = authenticate(db, "ana@example.com", "s3cret-passphrase")
        assert user is not None
        assert user.password_hash.startswith("scrypt$")
        assert [(a.project.name, a.role.value) for a in projects_for_user(db, user.id)] == [
            ("shop", "viewer")
        ]


def test_user_create_explains_bad_input(tmp_path: Path) -> None:
    short = _haloscope(tmp_path, "user", "create", "--email", "a@b.co", "--password", "short")
    assert short.returncode == 2 and "password too short" in short.stderr
    no_project = _haloscope(
        tmp_path,
        "user",
        "create",
        "--email",
        "a@b.co",
        "--password",
        "long enough",
        "--project",
        "nope",
    )
    assert no_project.returncode == 2 and "no project named 'nope'" in no_project.stderr
    ok = _haloscope(tmp_path, "user", "create", "--email", "a@b.co", "--password", "long enough")
    assert ok.returncode == 0
    again = _haloscope(tmp_path, "user", "create", "--email", "A@b.co", "--password", "long enough")
    assert again.returncode == 2 and "already exists" in again.stderr
