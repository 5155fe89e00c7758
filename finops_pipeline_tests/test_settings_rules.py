"""The rules that come from outside (AWS, IANA, the file system, JSON): exact messages and what is accepted.

Issue #14 F4/F5: values that crashed (RecursionError, a bare RuntimeError) or were accepted and failed
every run, and report confinement that followed the working directory.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from finops_pipeline import settings_rules
from finops_pipeline.lib.reporting.safety import OutputPathError, report_dir
from finops_pipeline.settings import SettingsError, default_project_root, load_settings

TODAY = dt.date(2026, 11, 27)
CHECKOUT = Path(__file__).resolve().parents[1]


def error_line(env: dict[str, str], name: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(env, today=TODAY)
    return next(line for line in str(caught.value).splitlines() if f"{name}=" in line).removeprefix("  - ")


def test_a_home_folder_that_cannot_be_expanded_is_named() -> None:
    assert error_line({"FINOPS_DUCKDB_PATH": "~nosuchuser/x.duckdb"}, "FINOPS_DUCKDB_PATH") == (
        "FINOPS_DUCKDB_PATH='~nosuchuser/x.duckdb' is invalid: '~' cannot be expanded: no home directory "
        "is known for nosuchuser. Fix: give the path of a .duckdb file in a writable folder outside .git "
        "and the virtualenv, e.g. data/finops.duckdb"
    )


def test_a_database_below_a_file_fails_at_load_not_at_every_run(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("x")
    value = f"{tmp_path}/README.md/x.duckdb"
    line = error_line({"FINOPS_DUCKDB_PATH": value}, "FINOPS_DUCKDB_PATH")
    assert line.startswith(
        f"FINOPS_DUCKDB_PATH={value!r} is invalid: {tmp_path}/README.md is a file, not a folder."
    )
    assert " Fix: give the path of a .duckdb file in a writable folder" in line


def test_a_database_in_a_missing_folder_is_fine_when_it_can_be_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "finops.duckdb"
    assert load_settings({"FINOPS_DUCKDB_PATH": str(path)}, today=TODAY).duckdb_path == path
    assert not (tmp_path / "new").exists()  # checked, not created


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (f"{sys.prefix}/finops.duckdb", f"is inside the Python environment {Path(sys.prefix).resolve()}"),
        ("/work/x/.git/finops.duckdb", "is inside a .git folder (git's own files, hooks included)"),
        ("/opt/lib/site-packages/finops.duckdb", "is inside a Python site-packages folder"),
    ],
)
def test_a_database_among_code_or_git_files_is_refused(value: str, why: str) -> None:
    assert error_line({"FINOPS_DUCKDB_PATH": value}, "FINOPS_DUCKDB_PATH").startswith(
        f"FINOPS_DUCKDB_PATH={value!r} is invalid: {why}. Fix:"
    )


def test_deep_json_is_refused_without_recursion_error() -> None:
    value = '{"Environment": ' + "[" * 100_000 + "]" * 100_000 + "}"
    line = error_line({"TAG_ALLOWED_VALUES": value}, "TAG_ALLOWED_VALUES")
    assert line.startswith('TAG_ALLOWED_VALUES=\'{"Environment": [[[')
    assert (
        "... (200,017 characters) is invalid: inline value nests deeper than 8 levels. Fix: give JSON" in line
    )
    assert len(line) < 500  # the value is quoted by its start and length, not in full


def test_duplicate_keys_blank_and_control_values_are_refused() -> None:
    assert error_line(
        {"TAG_ALLOWED_VALUES": '{"Environment": ["prod"], "Environment": ["dev"]}'}, "TAG_ALLOWED_VALUES"
    ).startswith(
        'TAG_ALLOWED_VALUES=\'{"Environment": ["prod"], "Environment": ["dev"]}\' is invalid: inline '
        "value: key 'Environment' is given twice (JSON would silently keep only the last). Fix:"
    )
    for value, shown in (('[" "]', "' '"), ('["a\\u0000"]', "'a\\x00'"), ('["\\t"]', "'\\t'")):
        assert (
            "is invalid: allowed values of 'Environment' must be non-blank strings of at most 256 "
            f"characters without control characters; got {shown}. Fix:"
        ) in error_line({"TAG_ALLOWED_VALUES": '{"Environment": ' + value + "}"}, "TAG_ALLOWED_VALUES")


def test_duplicate_keys_in_a_yaml_rules_file_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("Environment: [prod]\nEnvironment: [dev]\n")
    line = error_line({"TAG_ALLOWED_VALUES": str(rules)}, "TAG_ALLOWED_VALUES")
    assert (
        "is invalid: file rules.yaml is not valid YAML at line 2, column 1: key 'Environment' is given twice"
        in line
    )


@pytest.mark.parametrize("value", ["localtime", "posix/Europe/Paris", "right/UTC", "posixrules", "Factory"])
def test_zone_database_files_are_not_time_zones(value: str) -> None:
    assert error_line({"REPORT_SCHEDULE_TIMEZONE": value}, "REPORT_SCHEDULE_TIMEZONE") == (
        f"REPORT_SCHEDULE_TIMEZONE={value!r} is invalid: is a file of the system's zone database, not an "
        "IANA time zone name. Fix: use an IANA time zone such as UTC or Europe/Paris"
    )


def test_real_time_zones_are_accepted() -> None:
    for zone in ("UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Asia/Kolkata"):
        assert load_settings({"REPORT_SCHEDULE_TIMEZONE": zone}, today=TODAY).report_schedule_timezone == zone


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("AWS_REGION", "use a code like us-east-1"),
        ("SES_REGION", "use the code of a region with SES, e.g. us-east-1"),
    ],
)
def test_a_made_up_region_is_refused(name: str, fix: str) -> None:
    assert error_line({name: "zz-fake-9"}, name) == (
        f"{name}='zz-fake-9' is invalid: 'zz-fake-9' is not an AWS region code botocore knows "
        f"(e.g. us-east-1, eu-west-1). Fix: {fix}"
    )
    assert error_line({"FINOPS_SCAN_REGIONS": "us-east-1,zz-fake-9"}, "FINOPS_SCAN_REGIONS") == (
        "FINOPS_SCAN_REGIONS='us-east-1,zz-fake-9' is invalid: zz-fake-9 is not an AWS region code botocore "
        "knows. Fix: give comma-separated region codes, e.g. us-east-1,eu-west-1"
    )


def test_regions_of_every_partition_are_accepted() -> None:
    regions = "us-east-1,cn-north-1,us-gov-west-1,us-iso-east-1,eusc-de-east-1,ap-southeast-5"
    assert load_settings({"FINOPS_SCAN_REGIONS": regions}, today=TODAY).scan_regions == tuple(
        regions.split(",")
    )
    assert "aws-global" not in settings_rules.known_regions()  # an endpoint alias, not a region


def test_tag_keys_follow_aws_rules() -> None:
    keys = "Environment,Cost Center,team:app/x=y+z@a-b_c.d,Kostenstelle-Zürich"
    assert load_settings({"REQUIRED_TAG_KEYS": keys}, today=TODAY).required_tag_keys == tuple(keys.split(","))
    assert error_line({"REQUIRED_TAG_KEYS": "Env#1"}, "REQUIRED_TAG_KEYS").startswith(
        "REQUIRED_TAG_KEYS='Env#1' is invalid: tag key 'Env#1' has characters AWS does not allow "
        "(letters, digits, spaces and _.:/=+-@). Fix: give at most 50 comma-separated tag keys"
    )


def test_the_number_of_required_keys_is_capped_with_its_cost() -> None:
    value = ",".join(f"K{i}" for i in range(500))
    line = error_line({"REQUIRED_TAG_KEYS": value}, "REQUIRED_TAG_KEYS")
    assert (
        "is invalid: 500 keys; at most 50 (a resource carries at most 50 tags, and each key costs every run "
        "one more Cost Explorer request stream: 500 requests or more, $5.00+ a run). Fix: give at most 50 "
        "comma-separated tag keys"
    ) in line
    fifty = ",".join(f"K{i}" for i in range(50))
    assert len(load_settings({"REQUIRED_TAG_KEYS": fifty}, today=TODAY).required_tag_keys) == 50


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (".git/hooks", "is inside a .git folder (git's own files, hooks included)"),
        (".venv/bin", "is inside a Python virtualenv"),
    ],
)
def test_report_folders_among_git_or_python_files_are_refused(tmp_path: Path, value: str, why: str) -> None:
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    env = {"FINOPS_PROJECT_ROOT": str(tmp_path), "REPORT_OUTPUT_DIR": value}
    assert error_line(env, "REPORT_OUTPUT_DIR").startswith(
        f"REPORT_OUTPUT_DIR={value!r} is invalid: {why}. Fix:"
    )


def test_the_project_root_is_this_checkout_whatever_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir("/")
    assert default_project_root() == CHECKOUT
    settings = load_settings({}, today=TODAY)
    assert settings.project_root == CHECKOUT
    line = error_line({"REPORT_OUTPUT_DIR": "/tmp"}, "REPORT_OUTPUT_DIR")
    assert line.startswith(
        f"REPORT_OUTPUT_DIR='/tmp' is invalid: resolves to /tmp, outside the project directory {CHECKOUT}."
    )
    with pytest.raises(OutputPathError, match="outside the project directory"):
        report_dir("/etc", settings.project_root)


def test_an_explicit_project_root_confines_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    settings = load_settings({"FINOPS_PROJECT_ROOT": str(tmp_path), "REPORT_OUTPUT_DIR": "out"}, today=TODAY)
    assert settings.project_root == tmp_path.resolve()
    assert report_dir(settings.report_output_dir, settings.project_root) == tmp_path.resolve() / "out"
    assert error_line({"FINOPS_PROJECT_ROOT": "relative"}, "FINOPS_PROJECT_ROOT") == (
        "FINOPS_PROJECT_ROOT='relative' is invalid: must be an absolute path (a relative one would follow "
        "the working directory). Fix: give the absolute path of the project folder (reports are confined to "
        "it), or unset it to use the folder of this project's pyproject.toml"
    )
    assert "is the file system root, which confines nothing" in error_line(
        {"FINOPS_PROJECT_ROOT": "/"}, "FINOPS_PROJECT_ROOT"
    )
