"""The standing checks run with the tests, so CI enforces them: ruff, mypy and import-linter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The console script of the venv the tests run in (import-linter has no `python -m` entry).
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_is_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def lint_imports(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # --no-cache: no .import_linter_cache is written into the work tree.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_imports_keep_the_architecture() -> None:
    """The contracts of [tool.importlinter] in pyproject.toml: layers and forbidden imports."""
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    """The check bites: the domain importing the store breaks "the domain is pure"."""
    shutil.copytree(
        ROOT / "receiver", tmp_path / "receiver", ignore=shutil.ignore_patterns("__pycache__")
    )
    # The copy, not the installed (editable) package, is the one analysed.
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    check = ("--contract", "domain-is-pure", str(ROOT / "pyproject.toml"))
    name = "The domain is pure: no framework or I/O library"

    # Unmodified, the contract holds: a failure below can only come from the added line.
    kept = lint_imports(*check, cwd=tmp_path, env=env)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert f"{name} KEPT" in kept.stdout

    lifecycle = tmp_path / "receiver" / "domain" / "lifecycle.py"
    lifecycle.write_text(lifecycle.read_text() + "\nimport receiver.store.engine  # noqa\n")
    broken = lint_imports(*check, cwd=tmp_path, env=env)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"{name} BROKEN" in broken.stdout
    # The chain runs through the added import down to SQLAlchemy.
    assert "receiver.domain.lifecycle -> receiver.store.engine" in broken.stdout
    assert "sqlalchemy" in broken.stdout
    # The layers contract sees it too (checked by the line alone: it does not depend on
    # whether the rest of the code keeps the layers today).
    layers = lint_imports(
        "--contract", "layers", str(ROOT / "pyproject.toml"), cwd=tmp_path, env=env
    )
    assert layers.returncode == 1, layers.stdout + layers.stderr
    assert "receiver.domain is not allowed to import receiver.store" in layers.stdout
    assert "receiver.domain.lifecycle -> receiver.store.engine" in layers.stdout
    # The repository itself was not touched.
    assert "receiver.store" not in (ROOT / "receiver/domain/lifecycle.py").read_text()


def test_every_package_is_shipped() -> None:
    """pyproject.toml lists the packages by hand (migrations/ is mapped into the package),
    so a new subpackage missing from the list would be absent from an installed service."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "receiver").rglob("__init__.py")
    }
    listed = {p for p in setuptools["packages"] if not p.startswith("receiver.migrations")}
    assert found == listed
