"""The product installs and loads without the sandbox: no moto, no finops_sandbox (issue #12 item 5).

The sandbox is its own package (``sandbox/``, a uv workspace member in the dev group), so a production
install carries neither it nor moto. The slow test builds that install for real: the product's locked
runtime dependencies only (``uv sync --no-dev --no-editable``, the product built as a wheel) into a new
venv, offline from the uv cache that ``make install`` filled, then imports the code location and runs
``dg check defs`` there. The fast tests pin the two rules that keep it true.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from finops_pipeline.cli import SANDBOX_MISSING, main

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ROOT / "finops_pipeline"
# Checked inside the product-only venv: run from a directory without the source, so that the installed
# wheel (not the checkout) is what imports.
PROBE = """
import importlib.util, pathlib, sys
import finops_pipeline, finops_pipeline.definitions
assert pathlib.Path(finops_pipeline.__file__).is_relative_to(sys.prefix), finops_pipeline.__file__
assert importlib.util.find_spec("moto") is None, "moto is installed"
assert importlib.util.find_spec("finops_sandbox") is None, "the sandbox is installed"
# The anomaly classifier fits from its packaged training file with the product's own scikit-learn.
from finops_pipeline.lib.anomalies.confirmation import TRAINING_FILE, model
assert TRAINING_FILE.is_relative_to(sys.prefix) and model().n_features_in_ == 23
print("imported")
"""


def _uv() -> str | None:
    """uv as the Makefile finds it: $UV, on PATH, or where ``make install`` puts it."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(Path.home() / ".local/bin/uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def test_only_the_cli_imports_the_sandbox_and_only_guarded() -> None:
    """Product modules never import finops_sandbox (or moto), except the CLI's try-import of its parser."""
    found: dict[str, list[str]] = {}
    for path in sorted(PRODUCT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            hits = [n for n in names if n.split(".")[0] in ("finops_sandbox", "moto")]
            if hits:
                found.setdefault(str(path.relative_to(ROOT)), []).extend(hits)
    assert found == {"finops_pipeline/cli.py": ["finops_sandbox"]}


def test_finops_sandbox_without_the_sandbox_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "finops_sandbox", None)  # an import of it now fails as if absent
    assert main(["sandbox", "--background", "--accounts", "3"]) == 2
    err = capsys.readouterr().err
    assert SANDBOX_MISSING in err and "install the sandbox: uv sync / make install" in err
    with pytest.raises(SystemExit):  # other commands keep their strict parsing
        main(["recover-runs", "--no-such-option"])


@pytest.mark.slow
def test_the_product_alone_installs_imports_and_checks_without_moto(tmp_path: Path) -> None:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (make install installs it)")
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    product_only = ["--frozen", "--offline", "--no-dev", "--no-editable", "--quiet"]
    sync = subprocess.run(
        [uv, "sync", *product_only, "--python", sys.executable],
        cwd=ROOT,
        env={**env, "UV_PROJECT_ENVIRONMENT": str(venv)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sync.returncode == 0, f"product-only install failed (is the uv cache filled?):\n{sync.stderr}"
    python, bindir = venv / "bin" / "python", venv / "bin"
    installed = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True)
    assert installed.returncode != 0  # a bare uv venv: nothing but what the product declares

    probe = subprocess.run(
        [python, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "imported"

    hint = subprocess.run(
        [bindir / "finops", "sandbox", "--background"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert hint.returncode == 2 and "install the sandbox: uv sync / make install" in hint.stderr

    # Loading the defs folder needs the project's pyproject.toml ([tool.dg]) beside the package, as dg does:
    # a copy of the product (pyproject and package, no sandbox/) run with the product-only venv.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copytree(PRODUCT, project / "finops_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    dg_env = {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}"}
    check = subprocess.run(
        [bindir / "dg", "check", "defs"], cwd=project, env=dg_env, capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout + check.stderr
