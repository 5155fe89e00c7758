"""Conformance with AWS's wire format (issue #13): what the pipeline reads exists, and the sandbox says it.

Two halves, both against botocore's service models (``botocore/data/<service>/*/service-2.json``, the
models boto3 parses with and the API reference is generated from):

- static: every response key the pipeline's code reads (``x["Key"]`` / ``x.get("Key")`` with an AWS-style
  name) is a member of the output shape of an operation that module calls -- a renamed or misspelt field
  (``AnomalyEndDate`` vs ``EndDate``) fails here, not in production;
- dynamic: for every operation the pipeline calls, the session sandbox's answer validates against that
  operation's output shape (``finops_sandbox.shape_check``), so the sandbox cannot drift from AWS.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.model import Shape

from finops_sandbox.shape_check import output_shape

PACKAGE = Path(__file__).resolve().parents[1] / "finops_pipeline"
SERVICES = (
    "ce",
    "organizations",
    "budgets",
    "resourcegroupstaggingapi",
    "ec2",
    "sts",
    "ses",
    "support",
    "rds",
    "lambda",
    "s3",
    "dynamodb",
    "elbv2",
    "cloudwatch",
    "savingsplans",
)
AWS_KEY = re.compile(r"^[A-Z][a-z][A-Za-z0-9]*$")  # AWS member names: CamelCase, not ENV_VARS
# botocore's error envelope (ClientError.response) and response metadata: not an operation's output shape.
ENVELOPE = {"Error", "Code", "Message", "ResponseMetadata"}
# Keys a module reads that are not AWS output members, and why.
NOT_OUTPUT = {
    "defs/ingest/cost_explorer_api.py": {"UnblendedCost"},  # a key of the Metrics map (MetricName)
    "lib/reporting/mail.py": {"From", "To", "Subject", "Date"},  # MIME headers of the mail it builds
    "doctor_probes.py": {"From", "To", "Subject"},  # the probe mail's MIME headers
    # keys of Cost Explorer's Attributes map (a commitment's account, terms and size)
    "lib/commitments.py": {
        "AccountId",
        "Region",
        "InstanceFamily",
        "HourlyCommitment",
        "StartDate",
        "EndDate",
        "SavingsPlansType",
        "accountId",
        "region",
        "instanceType",
        "numberOfInstances",
        "startDateTime",
        "endDateTime",
    },
}
# Modules that read an answer another module fetched.
READS_ANSWERS_OF = {
    "defs/anomalies/assets.py": [("ce", "GetAnomalies")],
    "lib/budget_scope.py": [("budgets", "DescribeBudgets")],
}


@cache
def _models() -> dict[str, Any]:
    session = botocore.session.get_session()
    return {service: session.get_service_model(service) for service in SERVICES}


def _members(shape: Shape | None, seen: set[str], out: set[str]) -> set[str]:
    """Every member name reachable from ``shape`` (structures, list items, map values)."""
    if shape is None or shape.name in seen:
        return out
    seen.add(shape.name)
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            out.add(name)
            _members(member, seen, out)
    elif shape.type_name == "list":
        _members(shape.member, seen, out)
    elif shape.type_name == "map":
        _members(shape.value, seen, out)
    return out


@cache
def _operations_by_method() -> dict[str, set[tuple[str, str]]]:
    """boto3 method / paginator name -> the (service, Operation) pairs it names."""
    by_name: dict[str, set[tuple[str, str]]] = {}
    for service, model in _models().items():
        for operation in model.operation_names:
            by_name.setdefault(xform_name(operation), set()).add((service, operation))
    return by_name


def called_operations(text: str) -> set[tuple[str, str]]:
    """(service, Operation) pairs whose boto3 method (``.get_anomalies``) or paginator name the source has.

    A name several services share (``list_tags_for_resource``) counts for each: the check then allows
    the members of any of them, which is loose but never misses a real call.
    """
    names = {a or b for a, b in re.findall(r'\.([a-z][a-z0-9_]*)\b|"([a-z][a-z0-9_]*)"', text)}
    return {pair for name in names for pair in _operations_by_method().get(name, ())}


def read_keys(text: str) -> set[str]:
    """AWS-style string keys the source subscripts or ``.get``s."""
    keys = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            value = node.slice.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            value = node.args[0].value
        else:
            continue
        if isinstance(value, str) and AWS_KEY.match(value):
            keys.add(value)
    return keys


def _modules() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), path.read_text()


def test_every_key_the_pipeline_reads_is_in_botocores_output_shape() -> None:
    problems = []
    for module, text in _modules():
        operations = called_operations(text) | set(READS_ANSWERS_OF.get(module, []))
        if not operations:
            continue
        allowed: set[str] = set()
        for service, operation in operations:
            _members(output_shape(service, operation), set(), allowed)
        unknown = read_keys(text) - allowed - ENVELOPE - NOT_OUTPUT.get(module, set())
        problems += [
            f"{module}: {key!r} is in no output shape of {sorted(operations)}" for key in sorted(unknown)
        ]
    assert problems == []


def test_a_module_reading_aws_answers_says_whose() -> None:
    """A module that reads output members but calls nothing must be in READS_ANSWERS_OF, or go unchecked."""
    everything: set[str] = set()
    for service, model in _models().items():
        for operation in model.operation_names:
            _members(output_shape(service, operation), set(), everything)
    unattributed = {
        module: sorted(keys)
        for module, text in _modules()
        if not called_operations(text)
        and module not in READS_ANSWERS_OF
        and (keys := read_keys(text) & everything - ENVELOPE - {"Action", "Effect", "Sid", "Statement"})
    }
    assert unattributed == {}


def test_the_static_reader_finds_what_it_should() -> None:
    """The extraction itself: a read of a wrong name is caught, a right one passes."""
    text = 'page = ce.get_anomalies(**body)\nfor a in page["Anomalies"]:\n'
    text += '    a.get("EndDate"), a["AnomalyEndDate"]'
    assert called_operations(text) == {("ce", "GetAnomalies")}
    assert read_keys(text) == {"Anomalies", "EndDate", "AnomalyEndDate"}
    allowed = _members(output_shape("ce", "GetAnomalies"), set(), set())
    assert read_keys(text) - allowed == {"EndDate"}
