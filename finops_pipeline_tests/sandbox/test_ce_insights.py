"""Cost Explorer emulator: forecasts, anomaly detection and purchase / rightsizing recommendations."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finops_pipeline_tests.sandbox.ce_fixture import (
    DEV,
    EC2,
    MGMT,
    PROD,
    RDS,
    S3,
    error,
    ok,
)
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator


# ---------------------------------------------------------------- GetCostForecast
def forecast(start: str = "2025-03-10", end: str = "2025-04-01", **extra: object) -> dict:
    return {
        "TimePeriod": {"Start": start, "End": end},
        "Metric": "UNBLENDED_COST",
        "Granularity": "MONTHLY",
    } | extra


def test_forecast_of_a_steady_service_is_exact(ce: CostExplorerEmulator) -> None:
    only_s3 = {"Dimensions": {"Key": "SERVICE", "Values": [S3]}}
    answer = ok(ce, "GetCostForecast", forecast("2025-03-10", "2025-05-01", Filter=only_s3))
    assert answer["Total"] == {"Amount": str(Decimal("1.234567") * 52), "Unit": "USD"}
    march, april = answer["ForecastResultsByTime"]
    assert march["TimePeriod"] == {"Start": "2025-03-10", "End": "2025-04-01"}
    assert (
        march["MeanValue"] == march["PredictionIntervalLowerBound"] == march["PredictionIntervalUpperBound"]
    )
    assert Decimal(march["MeanValue"]) == Decimal("1.234567") * 22
    assert Decimal(april["MeanValue"]) == Decimal("1.234567") * 30


def test_forecast_intervals_widen_with_the_level(ce: CostExplorerEmulator) -> None:
    daily = ok(ce, "GetCostForecast", forecast(Granularity="DAILY"))
    assert len(daily["ForecastResultsByTime"]) == 22
    narrow = ok(ce, "GetCostForecast", forecast())["ForecastResultsByTime"][0]
    wide = ok(ce, "GetCostForecast", forecast(PredictionIntervalLevel=95))["ForecastResultsByTime"][0]
    mean = Decimal(narrow["MeanValue"])
    assert (
        Decimal(wide["PredictionIntervalLowerBound"]) < Decimal(narrow["PredictionIntervalLowerBound"]) < mean
    )
    assert (
        mean < Decimal(narrow["PredictionIntervalUpperBound"]) < Decimal(wide["PredictionIntervalUpperBound"])
    )
    # a typical day is 8.892167; weekend medians carry part of the recent RDS level shift
    assert Decimal("8.892167") * 22 <= mean <= Decimal("8.892167") * 22 + 20


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (forecast("2025-03-09", "2025-04-01"), "current date"),
        (forecast(Metric="COST"), "Metric"),
        (forecast(Granularity="HOURLY"), "Granularity"),
        (forecast(PredictionIntervalLevel=100), "PredictionIntervalLevel"),
        (forecast("2025-03-10", "2025-08-01", Granularity="DAILY"), "3 months"),
        (forecast("2025-03-10", "2025-03-10"), "before end date"),
    ],
)
def test_forecast_validation(ce: CostExplorerEmulator, body: dict, message: str) -> None:
    assert message in error(ce, "GetCostForecast", body)


# ---------------------------------------------------------------- anomalies
def test_monitors(ce: CostExplorerEmulator) -> None:
    monitors = ok(ce, "GetAnomalyMonitors", {})["AnomalyMonitors"]
    assert [(m["MonitorType"], m.get("MonitorDimension")) for m in monitors] == [
        ("DIMENSIONAL", "SERVICE"),
        ("CUSTOM", None),
    ]
    assert all(m["MonitorArn"].startswith(f"arn:aws:ce::{MGMT}:anomalymonitor/") for m in monitors)
    assert monitors[0]["DimensionalValueCount"] == 4
    assert monitors[1]["MonitorSpecification"]["Dimensions"]["Values"] == [PROD, DEV]
    one = ok(ce, "GetAnomalyMonitors", {"MonitorArnList": [monitors[1]["MonitorArn"]]})["AnomalyMonitors"]
    assert one == [monitors[1]]
    first = ok(ce, "GetAnomalyMonitors", {"MaxResults": 1})
    second = ok(ce, "GetAnomalyMonitors", {"MaxResults": 1, "NextPageToken": first["NextPageToken"]})
    assert first["AnomalyMonitors"] + second["AnomalyMonitors"] == monitors


def service_anomalies(ce: CostExplorerEmulator, **extra: object) -> list[dict]:
    arn = ok(ce, "GetAnomalyMonitors", {})["AnomalyMonitors"][0]["MonitorArn"]
    body = {"DateInterval": {"StartDate": "2025-01-01", "EndDate": "2025-03-10"}, "MonitorArn": arn} | extra
    return ok(ce, "GetAnomalies", body)["Anomalies"]


def test_anomalies_reconcile_with_the_ledger(ce: CostExplorerEmulator) -> None:
    anomalies = service_anomalies(ce)
    assert [(a["AnomalyStartDate"], a["AnomalyEndDate"], a["DimensionValue"]) for a in anomalies] == [
        ("2025-03-08", "2025-03-09", RDS),  # still ongoing: AWS sets the end to the last day evaluated
        ("2025-02-20", "2025-02-22", EC2),  # the drop of 2025-01-05 is never reported
    ]
    still_open, spike = anomalies
    # actual = 3 days x (2.304 + 1 + 19.2) of EC2 in the account; expected = actual - impact
    assert spike["Impact"] == {
        "MaxImpact": 19.2,
        "TotalImpact": 57.6,
        "TotalActualSpend": 67.51,
        "TotalExpectedSpend": 9.91,
        "TotalImpactPercentage": 581.11,
    }
    assert spike["RootCauses"] == [
        {
            "Service": EC2,
            "Region": "us-east-1",
            "LinkedAccount": PROD,
            "LinkedAccountName": "Prod One",
            "UsageType": "USE1-BoxUsage:m5.large",
            "Impact": {"Contribution": 57.6},
        }
    ]
    assert spike["AnomalyScore"]["CurrentScore"] == 0.0 < spike["AnomalyScore"]["MaxScore"] <= 1
    assert spike["Feedback"] == "YES"
    assert (
        still_open["Impact"]["TotalActualSpend"] == 28.21
        and still_open["Impact"]["TotalExpectedSpend"] == 8.21
    )
    assert still_open["AnomalyScore"]["CurrentScore"] == still_open["AnomalyScore"]["MaxScore"]
    assert service_anomalies(ce) == anomalies  # stable ids and values


def test_anomaly_filters_and_paging(ce: CostExplorerEmulator) -> None:
    everything = ok(ce, "GetAnomalies", {"DateInterval": {"StartDate": "2025-01-01"}})["Anomalies"]
    assert len(everything) == 4  # both anomalies, once per monitor
    assert len({a["AnomalyId"] for a in everything}) == 4
    assert [
        a["Impact"]["TotalImpact"]
        for a in service_anomalies(ce, TotalImpact={"NumericOperator": "GREATER_THAN", "StartValue": 30})
    ] == [57.6]
    assert [
        a["Impact"]["TotalImpact"]
        for a in service_anomalies(
            ce, TotalImpact={"NumericOperator": "BETWEEN", "StartValue": 10, "EndValue": 30}
        )
    ] == [20.0]
    assert [a["AnomalyStartDate"] for a in service_anomalies(ce, Feedback="YES")] == ["2025-02-20"]
    late = ok(ce, "GetAnomalies", {"DateInterval": {"StartDate": "2025-03-01", "EndDate": "2025-03-10"}})
    assert {a["AnomalyStartDate"] for a in late["Anomalies"]} == {"2025-03-08"}
    first = ok(ce, "GetAnomalies", {"DateInterval": {"StartDate": "2025-01-01"}, "MaxResults": 3})
    rest = ok(
        ce,
        "GetAnomalies",
        {
            "DateInterval": {"StartDate": "2025-01-01"},
            "MaxResults": 3,
            "NextPageToken": first["NextPageToken"],
        },
    )
    assert first["Anomalies"] + rest["Anomalies"] == everything and "NextPageToken" not in rest


def test_date_interval_selects_anomalies_by_their_end_date(ce: CostExplorerEmulator) -> None:
    """API_GetAnomalies: "The returned anomaly object will have an AnomalyEndDate in the specified time
    range" -- not "overlaps the range": the EC2 spike (2025-02-20..22) is missed by an interval that
    covers only its first two days and found by one that holds only its last day."""

    def starts(start: str, end: str) -> list[str]:
        return [
            a["AnomalyStartDate"]
            for a in service_anomalies(ce, DateInterval={"StartDate": start, "EndDate": end})
        ]

    assert starts("2025-02-20", "2025-02-21") == []
    assert starts("2025-02-22", "2025-02-22") == ["2025-02-20"]
    assert starts("2025-02-23", "2025-03-08") == []  # the RDS spike's end has moved on to 03-09
    # the ongoing anomaly (began 03-08) ends, for now, on the last day evaluated (as_of - 1 = 03-09)
    assert starts("2025-03-09", "2025-03-09") == ["2025-03-08"]
    ongoing = service_anomalies(ce, DateInterval={"StartDate": "2025-03-09", "EndDate": "2025-03-10"})
    assert ongoing[0]["AnomalyEndDate"] == "2025-03-09" and ongoing[0]["AnomalyScore"]["CurrentScore"] > 0


def test_anomaly_validation(ce: CostExplorerEmulator) -> None:
    assert "90 days" in error(ce, "GetAnomalies", {"DateInterval": {"StartDate": "2024-12-09"}})
    assert "StartDate" in error(ce, "GetAnomalies", {})
    status, answer = ce.handle(
        "GetAnomalies",
        {"DateInterval": {"StartDate": "2025-01-01"}, "MonitorArn": "arn:aws:ce::1:anomalymonitor/nope"},
    )
    assert status == 400 and answer["__type"] == "UnknownMonitorException"


# ---------------------------------------------------------------- RI / SP recommendations
def test_reserved_instance_recommendation(ce: CostExplorerEmulator) -> None:
    answer = ok(
        ce,
        "GetReservationPurchaseRecommendation",
        {
            "Service": EC2,
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "TermInYears": "THREE_YEARS",
            "PaymentOption": "ALL_UPFRONT",
        },
    )
    [rec] = answer["Recommendations"]
    assert (rec["AccountScope"], rec["TermInYears"], rec["PaymentOption"]) == (
        "PAYER",
        "THREE_YEARS",
        "ALL_UPFRONT",
    )
    m5, t3 = rec["RecommendationDetails"]
    assert m5["AccountId"] == MGMT
    assert m5["InstanceDetails"]["EC2InstanceDetails"]["InstanceType"] == "m5.large"
    assert m5["RecommendedNumberOfInstancesToPurchase"] == "1"
    # 1 x 0.096/h x 730 h = 70.08 on demand a month; 55% off; 36 months paid up front
    assert m5["EstimatedMonthlySavingsAmount"] == "38.54"
    assert m5["UpfrontCost"] == "1135.30" and m5["RecurringStandardMonthlyCost"] == "0.00"
    assert t3["EstimatedMonthlySavingsAmount"] == "4.18"  # 0.0104 x 730 x 0.55
    assert rec["RecommendationSummary"]["TotalEstimatedMonthlySavingsAmount"] == "42.72"
    linked = ok(ce, "GetReservationPurchaseRecommendation", {"Service": RDS, "AccountScope": "LINKED"})
    [detail] = linked["Recommendations"][0]["RecommendationDetails"]
    assert (
        detail["AccountId"] == DEV
        and detail["InstanceDetails"]["RDSInstanceDetails"]["Region"] == "us-west-2"
    )
    assert "Service" in error(ce, "GetReservationPurchaseRecommendation", {"Service": "Amazon Lightsail"})
    assert "TermInYears" in error(
        ce, "GetReservationPurchaseRecommendation", {"Service": EC2, "TermInYears": "TWO_YEARS"}
    )


def test_savings_plans_recommendation(ce: CostExplorerEmulator) -> None:
    body = {
        "SavingsPlansType": "COMPUTE_SP",
        "TermInYears": "ONE_YEAR",
        "PaymentOption": "NO_UPFRONT",
        "LookbackPeriodInDays": "THIRTY_DAYS",
    }
    rec = ok(ce, "GetSavingsPlansPurchaseRecommendation", body)["SavingsPlansPurchaseRecommendation"]
    [detail] = rec["SavingsPlansPurchaseRecommendationDetails"]
    # steady on-demand EC2: (2.304 + 0.2496) / 24 = 0.1064 an hour, 25% off -> commit 0.080 an hour
    assert detail["CurrentMinimumHourlyOnDemandSpend"] == "0.106"
    assert detail["HourlyCommitmentToPurchase"] == "0.080"
    assert detail["EstimatedSPCost"] == "57.60"  # 0.08 x 720 h
    assert detail["EstimatedOnDemandCostWithCurrentCommitment"] == "134.21"  # 30 x 2.5536 + 3 x 19.2
    assert rec["SavingsPlansPurchaseRecommendationSummary"]["TotalRecommendationCount"] == "1"
    assert rec["SavingsPlansPurchaseRecommendationSummary"]["DailyCommitmentToPurchase"] == "1.920"
    ec2 = ok(
        ce,
        "GetSavingsPlansPurchaseRecommendation",
        body | {"SavingsPlansType": "EC2_INSTANCE_SP", "AccountScope": "LINKED"},
    )
    details = ec2["SavingsPlansPurchaseRecommendation"]["SavingsPlansPurchaseRecommendationDetails"]
    assert [
        (d["AccountId"], d["SavingsPlansDetails"]["InstanceFamily"], d["HourlyCommitmentToPurchase"])
        for d in details
    ] == [(PROD, "m5", "0.064"), (DEV, "t3", "0.007")]
    assert "PaymentOption" in error(
        ce, "GetSavingsPlansPurchaseRecommendation", body | {"PaymentOption": "X"}
    )


def test_rightsizing_recommendation(ce: CostExplorerEmulator) -> None:
    answer = ok(ce, "GetRightsizingRecommendation", {"Service": "AmazonEC2"})
    assert answer["Summary"] == {
        "TotalRecommendationCount": "2",
        "EstimatedTotalMonthlySavingsAmount": "77.67",
        "SavingsCurrencyCode": "USD",
        "SavingsPercentage": "52.57",
    }
    modify, terminate = answer["RightsizingRecommendations"]
    assert modify["RightsizingType"] == "MODIFY" and modify["CurrentInstance"]["ResourceId"] == "i-0big"
    [target] = modify["ModifyRecommendationDetail"]["TargetInstances"]
    assert target["ResourceDetails"]["EC2ResourceDetails"]["InstanceType"] == "m5.large"
    assert (target["EstimatedMonthlyCost"], target["EstimatedMonthlySavings"]) == ("70.08", "70.08")
    assert modify["CurrentInstance"]["Tags"] == [{"Key": "Environment", "Values": ["prod"]}]
    assert modify["CurrentInstance"]["TotalRunningHoursInLookbackPeriod"] == "168"  # 7 days
    assert terminate["RightsizingType"] == "TERMINATE"
    assert terminate["CurrentInstance"]["ResourceId"] == "inst-idle"  # not yet seeded into moto
    assert terminate["TerminateRecommendationDetail"] == {
        "EstimatedMonthlySavings": "7.59",
        "CurrencyCode": "USD",
    }
    page = ok(ce, "GetRightsizingRecommendation", {"Service": "AmazonEC2", "PageSize": 1})
    rest = ok(
        ce,
        "GetRightsizingRecommendation",
        {"Service": "AmazonEC2", "PageSize": 1, "NextPageToken": page["NextPageToken"]},
    )
    assert page["RightsizingRecommendations"] + rest["RightsizingRecommendations"] == [modify, terminate]
    dev_only = ok(
        ce,
        "GetRightsizingRecommendation",
        {"Service": "AmazonEC2", "Filter": {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [DEV]}}},
    )
    assert [r["RightsizingType"] for r in dev_only["RightsizingRecommendations"]] == ["TERMINATE"]
    assert "AmazonEC2" in error(ce, "GetRightsizingRecommendation", {"Service": "AmazonRDS"})
