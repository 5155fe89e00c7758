"""Which scan regions each account has enabled: a not-opted-in region is a status, not an error.

Regions launched after 20 March 2019 are opt-in: each account enables them itself, and until it does
every call there is refused with an authentication error (EC2 ``AuthFailure``, the Tagging API
``UnrecognizedClientException``) that reads like bad credentials
(https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html). ``DescribeRegions``
with ``AllRegions=True`` says, per account, which regions are ``opt-in-not-required``, ``opted-in`` or
``not-opted-in`` (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRegions.html).
One call per account and run, before the first scan that needs it: a not-opted-in region of that
account is recorded as ``region_not_enabled`` (nothing to scan there, nothing kept stale) and not
called. When the call itself fails, every region is scanned as before: the scan's own errors then say
what is wrong.
"""

from collections.abc import Callable, Sequence
from typing import Any

from finops_pipeline.aws_session import AwsResource, ScanOutcome, ScanTarget

NOT_ENABLED = "region_not_enabled"


def not_enabled_detail(region: str) -> str:
    return (
        f"{region} is an opt-in region not enabled for this account (DescribeRegions OptInStatus "
        "not-opted-in): nothing to scan. Fix: enable it (AWS console > Account > AWS Regions) if the "
        "account should run there, or remove it from FINOPS_SCAN_REGIONS."
    )


def opt_in_statuses(
    aws: AwsResource, accounts: Sequence[str], regions: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """account -> region -> OptInStatus, for the accounts whose DescribeRegions answered.

    Asked once per account and run: the tag scan and the EC2 scan of a run share the answers (a failed
    account is asked again by the next scan).
    """
    known: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = aws.run_memo().setdefault("opt_in", {})
    key = tuple(sorted(regions))

    def describe(target: ScanTarget) -> dict[str, Any]:
        ec2 = aws.client("ec2", account_id=target.account_id)
        answer = ec2.describe_regions(AllRegions=True, RegionNames=list(regions))
        return {r["RegionName"]: r.get("OptInStatus") for r in answer.get("Regions", [])}

    missing = [a for a in accounts if (a, key) not in known]
    for o in aws.fan_out([ScanTarget(a, aws.region) for a in missing], describe):
        if o.status == "ok" and o.result is not None:
            known[(o.target.account_id, key)] = o.result
    return {a: known[(a, key)] for a in accounts if (a, key) in known}


def scan_enabled(
    aws: AwsResource, targets: Sequence[ScanTarget], task: Callable[[ScanTarget], Any]
) -> list[ScanOutcome]:
    """``aws.fan_out(targets, task)``, except that a not-opted-in region gets its status, not a call."""
    accounts = list(dict.fromkeys(t.account_id for t in targets))
    statuses = opt_in_statuses(aws, accounts, sorted({t.region for t in targets}))
    skipped = {
        t: ScanOutcome(t, NOT_ENABLED, not_enabled_detail(t.region))
        for t in targets
        if statuses.get(t.account_id, {}).get(t.region) == "not-opted-in"
    }
    scanned = iter(aws.fan_out([t for t in targets if t not in skipped], task))
    return [skipped[t] if t in skipped else next(scanned) for t in targets]
