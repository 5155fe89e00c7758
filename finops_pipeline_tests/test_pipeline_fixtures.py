"""The test helpers that drive commands as a user would: what they hand the command must not leak."""

import signal
import sys
from pathlib import Path

from finops_pipeline_tests.pipeline_fixtures import process_group

PROBE = "import signal as s; print(s.getsignal(s.SIGINT).__name__, int(s.getsignal(s.SIGTERM)))"


def test_a_command_hears_ctrl_c_even_when_the_test_process_ignores_it(tmp_path: Path) -> None:
    """An ignored SIGINT is inherited across exec, and a suite started in the background (`make test &`,
    `nohup`: the shell ignores SIGINT for it) started `make ui` so that Ctrl-C never stopped it."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        log = tmp_path / "probe.log"
        with process_group([sys.executable, "-c", PROBE], tmp_path, log) as probe:
            assert probe.wait(timeout=60) == 0
    finally:
        signal.signal(signal.SIGINT, before)
    # Python installs its Ctrl-C handler only for a SIGINT not ignored at start; SIGTERM is the default
    assert log.read_text().split() == ["default_int_handler", str(int(signal.SIG_DFL))]
