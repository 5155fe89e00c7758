"""Validate emulator answers against botocore's output shapes.

An emulator that drifts from the real wire format breaks clients only at run time, so every answer the
sandbox gives is checked against the same service model boto3 parses with.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape

_NUMBER_TYPES = {"integer": int, "long": int, "float": (int, float), "double": (int, float)}


@cache
def _service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


def output_shape(service: str, operation: str) -> Shape:
    """The botocore output shape of `service`'s `operation`."""
    return _service_model(service).operation_model(operation).output_shape


def check_value(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Problems found walking `value` against `shape` (empty list = valid)."""
    if value is None:
        return []  # JSON null stands for an absent optional member (moto writes some so); AWS omits them
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected object for {shape.name}, got {type(value).__name__}"]
        problems = [
            f"{path}.{key}: unknown member of {shape.name}" for key in value if key not in shape.members
        ]
        for key, member in shape.members.items():
            if key in value:
                problems += check_value(member, value[key], f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected list for {shape.name}, got {type(value).__name__}"]
        problems = []
        for i, item in enumerate(value):
            problems += check_value(shape.member, item, f"{path}[{i}]")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected map for {shape.name}, got {type(value).__name__}"]
        problems = []
        for key, item in value.items():
            problems += check_value(shape.key, key, f"{path}<key {key!r}>")
            problems += check_value(shape.value, item, f"{path}[{key!r}]")
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected string for {shape.name}, got {type(value).__name__}"]
        enum = shape.enum
        if enum and value not in enum:
            return [f"{path}: {value!r} not in enum {shape.name}"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected boolean, got {type(value).__name__}"]
    if kind in _NUMBER_TYPES:
        ok = isinstance(value, _NUMBER_TYPES[kind]) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected {kind}, got {type(value).__name__}"]
    if kind == "timestamp":
        ok = isinstance(value, int | float | str | dt.datetime) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected timestamp, got {type(value).__name__}"]
    if kind == "blob":
        return (
            [] if isinstance(value, str | bytes) else [f"{path}: expected blob, got {type(value).__name__}"]
        )
    return [f"{path}: unsupported shape type {kind}"]


def check_output(service: str, operation: str, answer: dict[str, Any]) -> list[str]:
    """Problems in `answer` as the output of `service`'s `operation` (empty list = valid)."""
    return check_value(output_shape(service, operation), answer)
