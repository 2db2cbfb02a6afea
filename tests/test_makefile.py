"""The Makefile's first run: it says what it is doing before pip's long, quiet install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_install_announces_itself_before_pip_runs() -> None:
    # --always-make: the recipe as a first run executes it, whatever .venv holds now.
    recipe = subprocess.run(
        ["make", "--dry-run", "--always-make", "--no-print-directory", "install"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    installs = [n for n, line in enumerate(recipe) if "pip install" in line]
    announced = [n for n, line in enumerate(recipe) if line.startswith("echo ")]
    assert installs
    assert announced
    assert announced[0] < installs[0]
    assert "minute" in recipe[announced[0]]
