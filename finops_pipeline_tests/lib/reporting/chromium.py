"""Headless Chromium screenshots (Debian's ``chromium``, installed by ``make browser``)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        pytest.fail("headless Chromium is missing: run `make browser` (make test does it)")
    return path


def browser_env() -> dict[str, str]:
    """The environment for the browser, without libfaketime: under ``faketime`` (checks of the suite on
    other dates) Chromium's renderers spin on libfaketime's broken sleeps. The browser only draws the page;
    the report under test was written under the faked date."""
    preload = " ".join(p for p in os.environ.get("LD_PRELOAD", "").split() if "faketime" not in p)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return {**env, "LD_PRELOAD": preload} if preload else env


def run_chromium(profile: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run with the project's flags, its own profile folder and no libfaketime."""
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=browser_env(),
    )


def screenshot(html: Path, png: Path, profile: Path, size: str = "1280,2000") -> bytes:
    done = run_chromium(profile, f"--screenshot={png}", f"--window-size={size}", html.as_uri())
    assert png.is_file(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return png.read_bytes()


def page_height(html: Path, folder: Path, width: int = 1280) -> int:
    """The laid-out height (CSS px) of ``html`` at ``width``, measured by Chromium itself.

    The report forbids scripts (its CSP), so a probe page next to it frames it at that width and writes the
    framed document's ``scrollHeight`` into its own DOM, which ``--dump-dom`` prints once the page loads.
    File pages read each other only with ``--allow-file-access-from-files``.
    """
    probe = folder / "height-probe.html"
    probe.write_text(
        f'<!DOCTYPE html><body><iframe id="f" src="{html.as_uri()}" style="width:{width}px;height:800px;'
        "border:0\" onload=\"document.body.setAttribute('data-height', "
        'this.contentDocument.documentElement.scrollHeight)"></iframe></body>'
    )
    done = run_chromium(
        folder / "height-profile",
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe.as_uri(),
    )
    match = re.search(r'data-height="(\d+)"', done.stdout)
    assert match, f"no height (exit {done.returncode}): {done.stdout[-500:]} {done.stderr[-1500:]}"
    return int(match.group(1))
