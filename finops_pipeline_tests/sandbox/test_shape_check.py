"""The botocore output-shape validator catches what a drifting emulator would get wrong."""

from __future__ import annotations

from finops_sandbox.shape_check import check_output


def test_valid_answer_passes() -> None:
    answer = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2025-01-01", "End": "2025-02-01"},
                "Total": {"UnblendedCost": {"Amount": "1.5", "Unit": "USD"}},
                "Groups": [],
                "Estimated": False,
            }
        ],
        "DimensionValueAttributes": [],
    }
    assert check_output("ce", "GetCostAndUsage", answer) == []


def test_unknown_keys_wrong_types_and_enums_are_reported() -> None:
    answer = {
        "ResultsByTime": [{"Estimated": "no", "Total": {"UnblendedCost": {"Amount": 1.5}}, "Extra": 1}],
        "GroupDefinitions": [{"Type": "COLOUR", "Key": "x"}],
    }
    assert sorted(check_output("ce", "GetCostAndUsage", answer)) == [
        "$.GroupDefinitions[0].Type: 'COLOUR' not in enum GroupDefinitionType",
        "$.ResultsByTime[0].Estimated: expected boolean, got str",
        "$.ResultsByTime[0].Extra: unknown member of ResultByTime",
        "$.ResultsByTime[0].Total['UnblendedCost'].Amount: expected string for MetricAmount, got float",
    ]
    assert check_output("ce", "GetAnomalies", {"Anomalies": [{"AnomalyScore": {"MaxScore": "0.9"}}]}) == [
        "$.Anomalies[0].AnomalyScore.MaxScore: expected double, got str"
    ]
