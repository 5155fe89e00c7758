"""Validators for settings whose rules come from outside this project: AWS, IANA, the file system, JSON.

Each raises ``ValueError`` saying what is wrong; ``settings.py`` turns it into
``NAME='value' is invalid: <what>. Fix: <how>``. They live here so ``settings.py`` stays a readable
list of settings, and so every rule that must match an outside list (regions, time zones, tag keys)
is checked against that list itself rather than against a pattern that lets ``zz-fake-9`` through.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

# A resource carries at most 50 user tags (AWS Tagging reference, "Tag naming limits and
# requirements"), so more than 50 required keys could never all be present; and every key is one more
# Cost Explorer request stream (>= 1 request, $0.01, per run) for ce_cost_by_tag.
MAX_REQUIRED_TAG_KEYS = 50
MAX_TAG_KEY_LENGTH = 128
# Tag keys: 1-128 Unicode letters, digits, spaces and _ . : / = + - @; "aws:" is reserved for AWS.
# https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html#tag-conventions
TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")
MAX_JSON_DEPTH = 8  # the rules need 2 (mapping -> list); anything deeper is a mistake or an attack
PSEUDO_ZONES = ("localtime", "posixrules", "Factory")  # files in the zone database that are not zones


def expand_user(value: str) -> Path:
    """``~`` and ``~user`` expanded, or a ValueError naming the user (Python raises a bare RuntimeError)."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        user = value[1:].split("/", 1)[0] or "the current user"
        raise ValueError(f"'~' cannot be expanded: no home directory is known for {user}") from None


def _virtualenvs() -> tuple[Path, ...]:
    return tuple(dict.fromkeys(Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)))


def forbidden_area(path: Path) -> str | None:
    """Why ``path`` (absolute, resolved) is no place for data: inside .git, a virtualenv or site-packages."""
    if ".git" in path.parts:
        return "is inside a .git folder (git's own files, hooks included)"
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return "is inside a Python site-packages folder"
    for prefix in _virtualenvs():
        if path == prefix or prefix in path.parents:
            return f"is inside the Python environment {prefix}"
    if any((folder / "pyvenv.cfg").is_file() for folder in (path, *path.parents)):
        return "is inside a Python virtualenv"
    return None


def creatable_dir(folder: Path) -> None:
    """``folder`` is a writable directory, or can be created in its nearest existing, writable ancestor."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"folder {existing} is not writable")


def writable_file(value: str, suffixes: tuple[str, ...]) -> Path:
    """A file path whose folder exists (or can be created) and is writable, away from code and git."""
    path = expand_user(value)
    if path.exists() and path.is_dir():
        raise ValueError("is a directory, not a file")
    if path.suffix not in suffixes:
        raise ValueError(f"should name a {' or '.join(suffixes)} file")
    full = Path(os.path.abspath(path)).resolve()
    problem = forbidden_area(full)
    if problem:
        raise ValueError(problem)
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError("exists and is not writable")
    creatable_dir(full.parent)
    return path


@functools.lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region of every partition botocore knows (aws, aws-cn, aws-us-gov, the iso ones, ...)."""
    from botocore.loaders import create_loader

    loader = create_loader()
    regions: set[str] = set()
    for data_name in ("partitions", "endpoints"):
        for partition in loader.load_data(data_name)["partitions"]:
            regions.update(partition["regions"])
    # "aws-global", "aws-cn-global", ... are endpoint aliases, not regions a client can be built for.
    return frozenset(r for r in regions if not r.endswith("-global"))


def region(value: str) -> str:
    if value not in known_regions():
        raise ValueError(f"{value!r} is not an AWS region code botocore knows (e.g. us-east-1, eu-west-1)")
    return value


def regions(value: str) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not codes:
        raise ValueError("no region given")
    bad = [code for code in codes if code not in known_regions()]
    if bad:
        verb = "is not an AWS region code" if len(bad) == 1 else "are not AWS region codes"
        raise ValueError(f"{', '.join(bad)} {verb} botocore knows")
    return codes


@functools.lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(
        z for z in available_timezones() if z not in PSEUDO_ZONES and not z.startswith(("posix/", "right/"))
    )


def timezone(value: str) -> str:
    """A zone of the IANA list; ``localtime``, ``posix/...`` and ``right/...`` are files, not zones."""
    if value not in _iana_zones():
        if value in PSEUDO_ZONES or value.startswith(("posix/", "right/")):
            raise ValueError("is a file of the system's zone database, not an IANA time zone name")
        raise ValueError("not an IANA time zone")
    return value


def tag_key_problem(key: str) -> str | None:
    """What AWS would refuse in ``key`` as a tag key, or None."""
    if len(key) > MAX_TAG_KEY_LENGTH:
        return f"tag key {key[:20]!r}... is longer than AWS's {MAX_TAG_KEY_LENGTH} characters"
    if key.lower().startswith("aws:"):
        return f"tag key {key!r} uses the reserved prefix aws:"
    if not TAG_KEY_RE.match(key):
        return f"tag key {key!r} has characters AWS does not allow (letters, digits, spaces and _.:/=+-@)"
    return None


def tag_key(value: str) -> str:
    """One tag key AWS would accept (the showback key)."""
    problem = tag_key_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def tag_keys(value: str) -> tuple[str, ...]:
    keys = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not keys:
        raise ValueError("no tag key given")
    if len(keys) > MAX_REQUIRED_TAG_KEYS:
        raise ValueError(
            f"{len(keys)} keys; at most {MAX_REQUIRED_TAG_KEYS} (a resource carries at most 50 tags, and "
            "each key costs every run one more Cost Explorer request stream: "
            f"{len(keys)} requests or more, ${len(keys) * 0.01:,.2f}+ a run)"
        )
    for key in keys:
        problem = tag_key_problem(key)
        if problem:
            raise ValueError(problem)
    return keys


def control_free(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def _depth(text: str) -> int:
    """How deeply ``[`` / ``{`` nest in JSON text, strings skipped (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} is given twice (JSON would silently keep only the last)")
        seen[key] = value
    return seen


def strict_json(text: str, what: str) -> Any:
    """JSON with duplicate keys refused and nesting capped (deep nesting crashes json with RecursionError)."""
    if _depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{what} is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def strict_yaml(text: str, what: str) -> Any:
    """YAML with duplicate keys refused (PyYAML keeps the last silently) and nesting capped."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: list[Any] = []
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice", key_node.start_mark
                    )
                seen.append(key)
            return super().construct_mapping(node, deep=deep)

    if _depth(text) > MAX_JSON_DEPTH:  # flow style nests with the same brackets as JSON
        raise ValueError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader subclass: no object construction
    except RecursionError:
        raise ValueError(f"{what} nests too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValueError(f"{what} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None


# General purpose bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a
# letter or digit (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
FOCUS_EXPORT_SUFFIXES = (".parquet", ".csv", ".csv.gz")


def export_uri(value: str) -> str:
    """Where an AWS Data Export (FOCUS 1.0) lies: ``s3://bucket/prefix/export-name`` (the folder holding
    ``data/`` and ``metadata/``), or a local folder of its files. Returned without a trailing slash."""
    if value.startswith("s3://"):
        bucket, _, prefix = value[len("s3://") :].partition("/")
        if not BUCKET_RE.match(bucket) or ".." in bucket:
            raise ValueError(f"{bucket!r} is not an S3 bucket name (3-63 lowercase letters, digits, . and -)")
        prefix = prefix.strip("/")
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    if "://" in value:
        raise ValueError("only s3:// URIs and local folders are read (httpfs, gs:// and az:// are not)")
    folder = expand_user(value)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not an existing folder")
    return str(folder.resolve())
