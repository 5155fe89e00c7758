import json
import os
from pathlib import Path

import pyarrow as pa
import pytest

from finops_pipeline.lib.reporting.safety import (
    OutputPathError,
    SafeFolder,
    neutralise,
    neutralise_array,
    neutralise_json,
    report_dir,
    report_stem,
)
from finops_pipeline_tests.lib.reporting.synthetic import INJECTION_PAYLOADS, risky


@pytest.mark.parametrize("payload", INJECTION_PAYLOADS)
def test_every_known_payload_is_neutralised(payload: str) -> None:
    safe = neutralise(payload)
    assert not risky(safe)
    if risky(payload):
        assert safe == "'" + payload
    else:
        assert safe == payload


def test_plain_text_and_numbers_are_untouched() -> None:
    for value in ("", "prod", "Zürich-データ", "-12.5", "+3", "1e-5", "-0.25", "a=b", " =x"):
        assert neutralise(value) == value
    assert neutralise("-2+3") == "'-2+3"
    assert neutralise("-") == "'-"


def test_vectorised_matches_scalar_and_leaves_other_types() -> None:
    values = [*INJECTION_PAYLOADS, None, "ok", "-42", ""]
    array = neutralise_array(pa.array(values))
    assert array.to_pylist() == [None if v is None else neutralise(v) for v in values]
    numbers = pa.array([-1.5, 2.0, None])
    assert neutralise_array(numbers) is numbers


def test_json_is_neutralised_recursively_keys_included() -> None:
    doc = {"=k": ["+a", {"@b": "-c", "n": -3.5, "s": "-3.5"}], "t": True, "x": None}
    assert neutralise_json(doc) == {
        "'=k": ["'+a", {"'@b": "'-c", "n": -3.5, "s": "-3.5"}],
        "t": True,
        "x": None,
    }
    assert json.dumps(neutralise_json(doc))  # still JSON


def test_report_dir_is_confined(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    assert report_dir("reports", root) == root / "reports"
    assert (root / "reports").is_dir()
    assert report_dir(root / "nested" / "r", root) == root / "nested" / "r"
    for bad in ("../outside", "reports/../../outside", str(outside), "/etc"):
        with pytest.raises(OutputPathError, match="not allowed"):
            report_dir(bad, root)
    (root / "link").symlink_to(outside)
    with pytest.raises(OutputPathError, match="outside the project"):
        report_dir("link", root)
    with pytest.raises(OutputPathError):
        report_dir("link/sub", root)
    assert not (outside / "sub").exists()


def test_atomic_writes_never_overwrite_or_follow_links(tmp_path: Path) -> None:
    folder = report_dir("r", tmp_path)
    with SafeFolder(folder, tmp_path) as safe:
        with safe.atomic("a.csv") as handle:
            handle.write(b"x" * 10)
            assert not (folder / "a.csv").exists()  # invisible until complete
        assert (folder / "a.csv").read_bytes() == b"x" * 10
        with pytest.raises(OutputPathError, match="already exists"), safe.atomic("a.csv") as handle:
            handle.write(b"y")
        assert (folder / "a.csv").read_bytes() == b"x" * 10
        target = tmp_path / "victim.txt"
        target.write_text("keep")
        os.symlink(target, folder / "b.csv")
        with pytest.raises(OutputPathError), safe.atomic("b.csv") as handle:
            handle.write(b"evil")
        assert target.read_text() == "keep"
        with pytest.raises(RuntimeError), safe.atomic("c.csv") as handle:
            handle.write(b"partial")
            raise RuntimeError("writer failed")
        for bad in ("../x.csv", ".hidden", "a/b.csv"):
            with pytest.raises(OutputPathError), safe.atomic(bad):
                pass
    assert sorted(p.name for p in folder.iterdir()) == ["a.csv", "b.csv"]  # no temp files left


def test_folder_swapped_for_a_symlink_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    folder = report_dir("r", root)
    folder.rmdir()
    folder.symlink_to(tmp_path)
    with pytest.raises((OutputPathError, OSError)), SafeFolder(folder, root):
        pass


def test_file_stems_are_unique_and_sortable() -> None:
    import datetime as dt

    now = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
    stems = {report_stem(now) for _ in range(50)}
    assert len(stems) == 50
    assert all(s.startswith("finops-report-20261127T020000Z-") and len(s) == 39 for s in stems)
