"""Cost Anomaly Detection: monitors and the anomalies they report, derived from the world's labels.

Like the real service the detector is imperfect, deterministically from the world's seed: it misses
every drop (AWS only reports increases), about half of the slow drifts and some other labels, and it
adds a few false positives on ordinary days. Impact figures come from the ledger, so they reconcile
with GetCostAndUsage: actual = ledger spend of the account and service over the anomaly window,
expected = actual - impact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from finops_sandbox.cost_explorer.common import CEError, fingerprint, page_bounds, page_size_arg, parse_day

if TYPE_CHECKING:
    from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

WINDOW_DAYS = 90
_DETECTION_RATE = {"drop": 0.0, "drift": 0.45}
_DEFAULT_DETECTION_RATE = 0.85
_FALSE_POSITIVE_SHARE = 0.08
_FALSE_POSITIVE_MIN_SPEND = 20
_CUSTOM_MONITOR_ACCOUNTS = 10  # AWS's limit of linked accounts in one custom monitor
_OPERATORS = {
    "EQUAL": lambda v, a, b: v == a,
    "GREATER_THAN_OR_EQUAL": lambda v, a, b: v >= a,
    "LESS_THAN_OR_EQUAL": lambda v, a, b: v <= a,
    "GREATER_THAN": lambda v, a, b: v > a,
    "LESS_THAN": lambda v, a, b: v < a,
    "BETWEEN": lambda v, a, b: a <= v <= b,
}


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from `parts`: seed-keyed choices that never depend on order."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def stable_uuid(*parts: object) -> str:
    """A UUID-shaped id that is the same for the same world."""
    return str(uuid.UUID(bytes=hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()))


class AnomalyDetection:
    """GetAnomalyMonitors and GetAnomalies."""

    def __init__(self, emulator: CostExplorerEmulator) -> None:
        self.em = emulator
        self.seed = emulator.world.config.seed
        self._anomalies: list[dict[str, Any]] | None = None
        self.monitors = self._build_monitors()

    def _build_monitors(self) -> list[dict[str, Any]]:
        world = self.em.world
        mgmt = world.management_account_id
        with self.em.lock:
            services = self.em.con.execute("SELECT count(DISTINCT service) FROM ledger").fetchall()[0][0]
            members = [
                r[0]
                for r in self.em.con.execute(
                    "SELECT account_id FROM accounts WHERE account_id <> ? AND status = 'ACTIVE' "
                    "ORDER BY ou_name <> 'Production', account_id LIMIT ?",
                    [mgmt, _CUSTOM_MONITOR_ACCOUNTS],
                ).fetchall()
            ]
        created = world.history_start.isoformat()
        evaluated = (world.data_end - dt.timedelta(days=1)).isoformat()

        def arn(name: str) -> str:
            return f"arn:aws:ce::{mgmt}:anomalymonitor/{stable_uuid(self.seed, 'monitor', name)}"

        self.service_monitor_arn = arn("services")
        self.account_monitor_arn = arn("accounts")
        self.account_monitor_members = frozenset(members)
        return [
            {
                "MonitorArn": self.service_monitor_arn,
                "MonitorName": "Default-Services-Monitor",
                "CreationDate": created,
                "LastUpdatedDate": created,
                "LastEvaluatedDate": evaluated,
                "MonitorType": "DIMENSIONAL",
                "MonitorDimension": "SERVICE",
                "DimensionalValueCount": services,
            },
            {
                "MonitorArn": self.account_monitor_arn,
                "MonitorName": "Linked-Accounts-Monitor",
                "CreationDate": created,
                "LastUpdatedDate": created,
                "LastEvaluatedDate": evaluated,
                "MonitorType": "CUSTOM",
                "MonitorSpecification": {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": members}},
            },
        ]

    def member_monitor(self, account: str) -> dict[str, Any]:
        """A member account's own AWS services monitor: the only monitor that account sees.

        Monitors belong to the account that owns them (their ARN is ``arn:aws:ce::<account-id>:
        anomalymonitor/<id>``, https://docs.aws.amazon.com/cost-management/latest/userguide/accesscontrol-ad.html)
        and "member accounts only have access to their own costs"
        (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/ce-access.html): a member never reads
        the management account's monitors, and its own services monitor evaluates its own spend only.
        """
        monitor = dict(self.monitors[0])
        monitor["MonitorArn"] = (
            f"arn:aws:ce::{account}:anomalymonitor/{stable_uuid(self.seed, 'monitor', account)}"
        )
        return monitor

    # ---------------------------------------------------------------- operations
    def get_anomaly_monitors(self, body: dict[str, Any], owner: str | None = None) -> dict[str, Any]:
        """The caller's monitors: the management account's, or (`owner`, a member) that member's own."""
        wanted = body.get("MonitorArnList")
        own = self.monitors if owner is None else [self.member_monitor(owner)]
        monitors = [m for m in own if not wanted or m["MonitorArn"] in wanted]
        if wanted and len(monitors) < len(set(wanted)):
            raise CEError("Monitor does not exist", "UnknownMonitorException")
        size = min(page_size_arg(body, "MaxResults", 100, 100), self.em.page_size)  # the sandbox page cap
        lo, hi, token = page_bounds(body, fingerprint(body, "NextPageToken"), len(monitors), size)
        answer: dict[str, Any] = {"AnomalyMonitors": monitors[lo:hi]}
        if token:
            answer["NextPageToken"] = token
        return answer

    def get_anomalies(self, body: dict[str, Any], owner: str | None = None) -> dict[str, Any]:
        """Anomalies of the window; `owner` (a member caller): those its own monitor finds in its spend.

        A member's services monitor reports the anomalies of its own account, under its own monitor ARN
        and anomaly ids (an anomaly belongs to the monitor that detected it); the management account's
        linked-accounts monitor is not the member's and its anomalies are not shown.
        """
        interval = body.get("DateInterval")
        if not isinstance(interval, dict) or "StartDate" not in interval:
            raise CEError("DateInterval with StartDate is required")
        today = self.em.world.data_end
        start = parse_day(interval["StartDate"], "StartDate")
        end = parse_day(interval["EndDate"], "EndDate") if interval.get("EndDate") else today
        if end < start:
            raise CEError("StartDate must be on or before EndDate")
        if start < today - dt.timedelta(days=WINDOW_DAYS):
            raise CEError(f"StartDate is too old: anomalies are kept for {WINDOW_DAYS} days")
        monitor = body.get("MonitorArn")
        known = (
            (self.service_monitor_arn, self.account_monitor_arn)
            if owner is None
            else (self.member_monitor(owner)["MonitorArn"],)
        )
        if monitor is not None and monitor not in known:
            raise CEError(f"Monitor {monitor} does not exist", "UnknownMonitorException")
        feedback = body.get("Feedback")
        if feedback is not None and feedback not in ("YES", "NO", "PLANNED_ACTIVITY"):
            raise CEError(f"Invalid Feedback {feedback!r}")
        impact_test = self._impact_filter(body.get("TotalImpact"))
        with self.em.lock:
            if self._anomalies is None:
                self._anomalies = self._detect()
            anomalies = self._anomalies if owner is None else self._members_view(owner)
        # API_GetAnomalies: "The returned anomaly object will have an AnomalyEndDate in the specified time
        # range" -- the interval selects by end date (inclusive both ends), so a long anomaly that began
        # before StartDate is still returned, and an ongoing one is found by an interval ending today.
        selected = [
            a
            for a in anomalies
            if start.isoformat() <= a["AnomalyEndDate"] <= end.isoformat()
            and (monitor is None or a["MonitorArn"] == monitor)
            and (feedback is None or a.get("Feedback") == feedback)
            and impact_test(a["Impact"]["TotalImpact"])
        ]
        size = min(page_size_arg(body, "MaxResults", 100, 100), self.em.page_size)  # the sandbox page cap
        lo, hi, token = page_bounds(body, fingerprint(body, "NextPageToken"), len(selected), size)
        answer: dict[str, Any] = {"Anomalies": selected[lo:hi]}
        if token:
            answer["NextPageToken"] = token
        return answer

    def _members_view(self, owner: str) -> list[dict[str, Any]]:
        """The services monitor's anomalies rooted in `owner`, as `owner`'s own monitor reports them."""
        arn = self.member_monitor(owner)["MonitorArn"]
        return [
            {
                **a,
                "AnomalyId": stable_uuid(self.seed, "member-anomaly", a["AnomalyId"], arn),
                "MonitorArn": arn,
            }
            for a in self._anomalies or []
            if a["MonitorArn"] == self.service_monitor_arn and a["RootCauses"][0]["LinkedAccount"] == owner
        ]

    @staticmethod
    def _impact_filter(spec: Any):
        if spec is None:
            return lambda value: True
        operator = spec.get("NumericOperator") if isinstance(spec, dict) else None
        if operator not in _OPERATORS or not isinstance(spec.get("StartValue"), int | float):
            raise CEError("TotalImpact needs a valid NumericOperator and StartValue")
        low, high = spec["StartValue"], spec.get("EndValue")
        if operator == "BETWEEN" and not isinstance(high, int | float):
            raise CEError("TotalImpact BETWEEN needs an EndValue")
        return lambda value: _OPERATORS[operator](value, low, high)

    # ---------------------------------------------------------------- detection
    def _detect(self) -> list[dict[str, Any]]:
        """Every anomaly the monitors report for this world, newest first (computed once)."""
        world = self.em.world
        today = world.data_end
        last = today - dt.timedelta(days=1)
        source = self.em.source_for({"account_id", "service", "record_type"})
        detailed = self.em.source_for({"account_id", "service", "region", "usage_type"})
        true_hits = self.em.con.execute(
            f"""
            WITH daily AS (
                SELECT a.anomaly_id, l.usage_date, sum(l.unblended_cost) AS spend
                FROM anomalies a JOIN {source} l
                  ON l.account_id = a.account_id AND l.service = a.service
                 AND l.usage_date BETWEEN a.start_date AND least(a.end_date, CAST(? AS DATE))
                GROUP BY ALL)
            SELECT a.*, CAST(d.actual AS DOUBLE) AS actual, CAST(d.peak AS DOUBLE) AS peak, d.days
            FROM anomalies a JOIN (
                SELECT anomaly_id, sum(spend) AS actual, max(spend) AS peak, count(*) AS days
                FROM daily GROUP BY anomaly_id) d USING (anomaly_id)
            WHERE a.impact_usd > 0 AND a.end_date >= ?
            ORDER BY a.anomaly_id
            """,
            [last, today - dt.timedelta(days=WINDOW_DAYS)],
        ).fetchall()
        cols = [c[0] for c in self.em.con.description]
        found = []
        for values in true_hits:
            row = dict(zip(cols, values, strict=True))
            rate = _DETECTION_RATE.get(row["kind"], _DEFAULT_DETECTION_RATE)
            if unit_hash(self.seed, "detect", row["anomaly_id"]) < rate:
                found.append(row)
        detected = len(found)
        found += self._false_positives(source, detailed, max(1, round(detected * _FALSE_POSITIVE_SHARE)))
        anomalies = []
        for row in found:
            anomalies.append(self._anomaly(row, self.service_monitor_arn, row["service"], last))
            if row["account_id"] in self.account_monitor_members:
                anomalies.append(self._anomaly(row, self.account_monitor_arn, row["account_id"], last))
        anomalies.sort(key=lambda a: (a["AnomalyStartDate"], a["AnomalyId"]), reverse=True)
        return anomalies

    def _false_positives(self, source: str, detailed: str, count: int) -> list[dict[str, Any]]:
        """Ordinary high-spend days the detector flags anyway, chosen by hashing (stable per world)."""
        today = self.em.world.data_end
        rows = self.em.con.execute(
            f"""
            WITH days AS (
                SELECT account_id, service, usage_date, sum(unblended_cost) AS spend FROM {source}
                WHERE usage_date >= ? AND usage_date < ? AND record_type = 'Usage'
                GROUP BY ALL HAVING sum(unblended_cost) >= ?),
            picks AS (
                SELECT * FROM days d WHERE NOT EXISTS (
                    SELECT 1 FROM anomalies a WHERE a.account_id = d.account_id AND a.service = d.service
                      AND d.usage_date BETWEEN a.start_date - INTERVAL 7 DAY AND a.end_date + INTERVAL 7 DAY)
                ORDER BY md5(concat(?, account_id, service, CAST(usage_date AS VARCHAR))) LIMIT ?)
            SELECT p.account_id, p.service, p.usage_date, CAST(p.spend AS DOUBLE) AS spend,
                   arg_max(l.region, l.unblended_cost) AS region,
                   arg_max(l.usage_type, l.unblended_cost) AS usage_type
            FROM picks p JOIN {detailed} l USING (account_id, service, usage_date)
            GROUP BY ALL ORDER BY p.account_id, p.usage_date
            """,
            [
                today - dt.timedelta(days=WINDOW_DAYS),
                today - dt.timedelta(days=1),
                _FALSE_POSITIVE_MIN_SPEND,
                str(self.seed),
                count,
            ],
        ).fetchall()
        out = []
        for account, service, day, spend, region, usage_type in rows:
            anomaly_id = f"fp-{account}-{day.isoformat()}-{service}"
            share = 0.15 + 0.2 * unit_hash(self.seed, "fp-share", anomaly_id)
            out.append(
                {
                    "anomaly_id": anomaly_id,
                    "account_id": account,
                    "service": service,
                    "region": region,
                    "usage_type": usage_type,
                    "kind": "false_positive",
                    "start_date": day,
                    "end_date": day,
                    "impact_usd": spend * share,
                    "actual": spend,
                    "peak": spend,
                    "days": 1,
                }
            )
        return out

    def _anomaly(
        self, row: dict[str, Any], monitor_arn: str, dimension_value: str, last: dt.date
    ) -> dict[str, Any]:
        key = row["anomaly_id"]
        impact = float(row["impact_usd"])
        actual = row["actual"]
        expected = max(actual - impact, 0.0)
        days = max(row["days"], 1)
        peak_impact = min(max(row["peak"] - expected / days, impact / days), impact)
        open_ = row["end_date"] >= last
        score = round(0.55 + 0.44 * unit_hash(self.seed, "score", key), 2)
        anomaly: dict[str, Any] = {
            "AnomalyId": stable_uuid(self.seed, "anomaly", key, monitor_arn),
            "AnomalyStartDate": row["start_date"].isoformat(),
            # AWS always sets it (Anomaly.AnomalyEndDate, "the last day the anomaly is detected"): an
            # ongoing anomaly's end is the last day evaluated so far and moves on with each evaluation.
            "AnomalyEndDate": min(row["end_date"], last).isoformat(),
            "DimensionValue": dimension_value,
            "RootCauses": [
                {
                    "Service": row["service"],
                    "Region": row["region"],
                    "LinkedAccount": row["account_id"],
                    "LinkedAccountName": self.em.account_names.get(row["account_id"], ""),
                    "UsageType": row["usage_type"],
                    "Impact": {"Contribution": round(impact, 2)},
                }
            ],
            "AnomalyScore": {"MaxScore": score, "CurrentScore": score if open_ else 0.0},
            "Impact": {
                "MaxImpact": round(peak_impact, 2),
                "TotalImpact": round(impact, 2),
                "TotalActualSpend": round(actual, 2),
                "TotalExpectedSpend": round(expected, 2),
            },
            "MonitorArn": monitor_arn,
        }
        if expected > 0:
            anomaly["Impact"]["TotalImpactPercentage"] = round(impact / expected * 100, 2)
        feedback = unit_hash(self.seed, "feedback", key)
        if row["kind"] == "false_positive" and feedback < 0.5:
            anomaly["Feedback"] = "NO"
        elif row["kind"] != "false_positive" and feedback < 0.2:
            anomaly["Feedback"] = "YES" if feedback < 0.15 else "PLANNED_ACTIVITY"
        return anomaly
