"""Tag governance rules: parsing and validation of the settings that define what "compliant" means.

``settings.py`` calls the ``parse_*`` functions (each raises ``ValueError`` with what is wrong, which the
settings reader turns into ``VARIABLE='value' is invalid: ... Fix: ...``) and ``cross_check`` once every
value is read. The compliance marts get the rules as a ``TagRules`` from ``TagPolicyResource.rules()``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from finops_pipeline.settings_rules import control_free, expand_user, strict_json, strict_yaml

if TYPE_CHECKING:
    from finops_pipeline.settings import Settings

CASE_MODES = ("strict", "insensitive")
MAX_TAG_VALUE_LENGTH = 256  # AWS's limit for a tag value
RESOURCE_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*(:[a-z0-9][a-zA-Z0-9-]*)?$")
AllowedValues = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class TagRules:
    """What a compliant resource carries: every required key, with an allowed value where a list is given."""

    required_keys: tuple[str, ...]
    allowed_values: AllowedValues = ()
    key_case_mode: str = "strict"  # strict: `environment` does not satisfy `Environment` (still reported)
    exempt_resource_types: tuple[str, ...] = ()  # "service" or "service:type", e.g. "ec2:snapshot"
    threshold_pct: float = 80.0

    def allowed_for(self, key: str) -> tuple[str, ...] | None:
        return next((values for k, values in self.allowed_values if k == key), None)


def rules_from_settings(settings: Settings) -> TagRules:
    return TagRules(
        required_keys=settings.required_tag_keys,
        allowed_values=settings.tag_allowed_values,
        key_case_mode=settings.tag_key_case_mode,
        exempt_resource_types=settings.tag_exempt_resource_types,
        threshold_pct=settings.tag_compliance_threshold,
    )


def _load_rules_file(path_text: str) -> Any:
    path = expand_user(path_text)
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise ValueError(
            "is neither inline JSON (starting with '{') nor the path of a .json, .yaml or .yml file"
        )
    if not path.is_file():
        raise ValueError(
            f"file {str(path)!r} does not exist" if not path.exists() else f"{str(path)!r} is not a file"
        )
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return strict_json(text, f"file {path.name}")
    return strict_yaml(text, f"file {path.name}")


def _usable_value(value: Any) -> bool:
    """A value a resource could carry and a reader could see: not blank, no NUL or other control character."""
    return (
        isinstance(value, str)
        and value.strip() != ""
        and len(value) <= MAX_TAG_VALUE_LENGTH
        and control_free(value)
    )


def parse_allowed_values(value: str) -> AllowedValues:
    """``{"Environment": ["prod", "dev"]}`` inline, or the path of a JSON / YAML file holding that mapping."""
    text = value.strip()
    data = strict_json(text, "inline value") if text.startswith("{") else _load_rules_file(text)
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ValueError(
            f"must be a mapping of tag key to a list of allowed values, not a {type(data).__name__}"
        )
    rules: list[tuple[str, tuple[str, ...]]] = []
    for key, values in data.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"tag key {key!r} must be a non-empty string")
        if isinstance(values, str) or not isinstance(values, list):
            raise ValueError(f'allowed values of {key!r} must be a list of strings, e.g. ["prod", "dev"]')
        if not values:
            raise ValueError(f"allowed values of {key!r} is an empty list: nothing could ever comply")
        bad = [v for v in values if not _usable_value(v)]
        if bad:
            raise ValueError(
                f"allowed values of {key!r} must be non-blank strings of at most {MAX_TAG_VALUE_LENGTH} "
                f"characters without control characters; got {bad[0]!r}"
            )
        rules.append((key, tuple(dict.fromkeys(values))))
    return tuple(rules)


def parse_case_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in CASE_MODES:
        raise ValueError(f"must be one of {', '.join(CASE_MODES)}")
    return mode


def parse_exempt_types(value: str) -> tuple[str, ...]:
    types = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    bad = [t for t in types if not RESOURCE_TYPE_RE.match(t)]
    if bad:
        raise ValueError(
            f"{', '.join(repr(b) for b in bad)}: use service or service:type as the Tagging API names them"
        )
    return types


def parse_threshold(value: str) -> float:
    try:
        number = float(value.strip().rstrip("%"))
    except ValueError:
        raise ValueError("not a number") from None
    if not 0 <= number <= 100:
        raise ValueError("must be a percentage between 0 and 100")
    return number


def cross_check(required_keys: Sequence[str], allowed: AllowedValues) -> list[str]:
    """Problems that need two settings together (returned, so settings can list them with the others)."""
    errors = []
    by_lower: dict[str, str] = {}
    for key in required_keys:
        other = by_lower.setdefault(key.lower(), key)
        if other != key:
            errors.append(
                f"REQUIRED_TAG_KEYS lists {other!r} and {key!r}: keys differing only in case cannot be told "
                "apart from case variants. Fix: keep one spelling"
            )
    for key, _ in allowed:
        if key not in required_keys:
            errors.append(
                f"TAG_ALLOWED_VALUES names {key!r}, which is not in REQUIRED_TAG_KEYS "
                f"({', '.join(required_keys)}). Fix: add it to REQUIRED_TAG_KEYS or spell it as there"
            )
    return errors
