"""Tag rules as configuration: every bad rule fails at load with the variable, the value and the fix."""

import json
from pathlib import Path

import pytest

from finops_pipeline.lib.tag_rules import TagRules, parse_allowed_values, rules_from_settings
from finops_pipeline.settings import SettingsError, load_settings

ENV_RULE = {"Environment": ["prod", "staging", "dev"]}


def test_defaults_require_keys_without_value_lists() -> None:
    rules = rules_from_settings(load_settings({}))
    assert rules == TagRules(
        required_keys=("Environment", "Owner", "Project", "CostCenter"),
        allowed_values=(),
        key_case_mode="strict",
        exempt_resource_types=(),
        threshold_pct=80.0,
    )
    assert load_settings({}).snapshot_max_age_days == 90


def test_inline_json_json_file_and_yaml_file_give_the_same_rules(tmp_path: Path) -> None:
    json_file = tmp_path / "rules.json"
    json_file.write_text(json.dumps(ENV_RULE))
    yaml_file = tmp_path / "rules.yaml"
    yaml_file.write_text("Environment:\n  - prod\n  - staging\n  - dev\n")
    expected = (("Environment", ("prod", "staging", "dev")),)
    assert parse_allowed_values(json.dumps(ENV_RULE)) == expected
    assert parse_allowed_values(str(json_file)) == expected
    assert parse_allowed_values(str(yaml_file)) == expected
    settings = load_settings(
        {
            "TAG_ALLOWED_VALUES": str(yaml_file),
            "TAG_KEY_CASE_MODE": "Insensitive",
            "TAG_EXEMPT_RESOURCE_TYPES": "ec2:snapshot, s3 ,ec2:snapshot",
            "TAG_COMPLIANCE_THRESHOLD": "92.5%",
            "SNAPSHOT_MAX_AGE_DAYS": "30",
        }
    )
    rules = rules_from_settings(settings)
    assert rules.allowed_for("Environment") == ("prod", "staging", "dev")
    assert rules.allowed_for("Owner") is None
    assert rules.key_case_mode == "insensitive"
    assert rules.exempt_resource_types == ("ec2:snapshot", "s3")
    assert rules.threshold_pct == 92.5
    assert settings.snapshot_max_age_days == 30


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TAG_ALLOWED_VALUES": '{"Environment": ["prod"'},
            "inline value is not valid JSON at line 1, column 24",
        ),
        ({"TAG_ALLOWED_VALUES": "/nope/rules.yaml"}, "file '/nope/rules.yaml' does not exist"),
        ({"TAG_ALLOWED_VALUES": "rules.txt"}, "nor the path of a .json, .yaml or .yml file"),
        ({"TAG_ALLOWED_VALUES": '["prod"]'}, "nor the path"),
        ({"TAG_ALLOWED_VALUES": '{"Environment": "prod"}'}, "allowed values of 'Environment' must be a list"),
        ({"TAG_ALLOWED_VALUES": '{"Environment": []}'}, "is an empty list: nothing could ever comply"),
        ({"TAG_ALLOWED_VALUES": '{"Environment": ["prod", 3]}'}, "got 3"),
        ({"TAG_ALLOWED_VALUES": '{"Environment": [""]}'}, "must be non-blank strings"),
        (
            {"TAG_ALLOWED_VALUES": '{"Team": ["a"]}'},
            "TAG_ALLOWED_VALUES names 'Team', which is not in REQUIRED_TAG_KEYS",
        ),
        ({"TAG_ALLOWED_VALUES": '{"environment": ["prod"]}'}, "names 'environment', which is not in"),
        (
            {"TAG_KEY_CASE_MODE": "lenient"},
            "TAG_KEY_CASE_MODE='lenient' is invalid: must be one of strict, insensitive",
        ),
        ({"TAG_EXEMPT_RESOURCE_TYPES": "EC2 Instance"}, "'EC2 Instance': use service or service:type"),
        ({"TAG_COMPLIANCE_THRESHOLD": "120"}, "must be a percentage between 0 and 100"),
        ({"TAG_COMPLIANCE_THRESHOLD": "high"}, "TAG_COMPLIANCE_THRESHOLD='high' is invalid: not a number"),
        ({"SNAPSHOT_MAX_AGE_DAYS": "0"}, "SNAPSHOT_MAX_AGE_DAYS='0' is invalid: must be between 1 and 3650"),
        ({"REQUIRED_TAG_KEYS": "Environment,environment"}, "keys differing only in case cannot be told"),
    ],
)
def test_bad_rules_fail_at_load_with_the_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert message in str(raised.value)
    assert "Fix:" in str(raised.value)


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yml"
    bad.write_text("Environment: [prod, dev\nOwner: x\n")
    with pytest.raises(SettingsError, match=r"TAG_ALLOWED_VALUES=.* is not valid YAML at line \d+"):
        load_settings({"TAG_ALLOWED_VALUES": str(bad)})


def test_every_bad_rule_is_listed_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {"TAG_KEY_CASE_MODE": "x", "TAG_COMPLIANCE_THRESHOLD": "-1", "SNAPSHOT_MAX_AGE_DAYS": "x"}
        )
    assert str(raised.value).count("Fix:") == 3
