"""The commitment inventories moto 5 does not serve, answered from the world's commitments.

moto 5 has no Savings Plans service, answers ``ec2:DescribeReservedInstances`` with NotImplementedError
and has no ``rds:DescribeReservedDBInstances``; the sandbox serves them from the same commitments Cost
Explorer reports on (``cost_explorer/commitment_inventory.py``, read from the ledger's fee lines), so the
inventory, the bill and the utilization answers agree. Each caller sees its own account's commitments (the
account of its access key), RIs in the region it signed for:

- ``savingsplans:DescribeSavingsPlans`` (API_DescribeSavingsPlans, REST-JSON ``POST /DescribeSavingsPlans``;
  ``states`` filter, ``maxResults`` 1-1000, ``nextToken``): ``commitment`` is the hourly commitment in USD,
  ``start``/``end`` ISO timestamps, ``termDurationInSeconds`` 31536000, ``state`` active | retired.
- ``rds:DescribeReservedDBInstances`` (API_DescribeReservedDBInstances, query protocol, XML; ``MaxRecords``
  20-100, ``Marker``): ``StartTime`` and ``Duration`` (the API has no end), ``RecurringCharges`` hourly,
  ``FixedPrice`` 0 (No Upfront), ``State`` active | retired.
- ``ec2:DescribeReservedInstances`` (API_DescribeReservedInstances, not paginated): the world buys no EC2
  reservations, so every account answers an empty ``reservedInstancesSet``, as AWS does for such an account.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from finops_sandbox.cost_explorer.commitment_inventory import (
    RDS_PRODUCTS,
    SP_TYPE,
    TERM_DAYS,
    commitments_table,
)
from finops_sandbox.faults import CallInfo, account_of, error_response

if TYPE_CHECKING:
    from finops_sandbox.world import World

TERM_SECONDS = TERM_DAYS * 86_400
SERVED = {
    ("savingsplans", "DescribeSavingsPlans"),
    ("rds", "DescribeReservedDBInstances"),
    ("ec2", "DescribeReservedInstances"),
}
_RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
_EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def serves(info: CallInfo) -> bool:
    return (info.service or "", info.operation or "") in SERVED


class CommitmentInventory:
    """Answers the three inventories for one world; the commitments are read once, on first use."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._by_owner: dict[tuple[str, str], list[dict[str, Any]]] | None = None
        self._lock = threading.Lock()

    def _rows(self, account_id: str, kind: str) -> list[dict[str, Any]]:
        """The account's commitments of ``kind``, in the table's order.

        Indexed by (account, kind) once: converting the whole table for each request was 9% of the
        sandbox's CPU while 200 accounts × 3 regions read their reservations (issue #19 part 4).
        """
        with self._lock:
            if self._by_owner is None:
                w = self._world
                table = commitments_table(w.ledger, w.config.seed, w.data_end, w.history_start)
                self._by_owner = {}
                for row in table.to_pylist():
                    self._by_owner.setdefault((row["account_id"], row["kind"]), []).append(row)
        return self._by_owner.get((account_id, kind), [])

    def __call__(
        self, info: CallInfo, environ: dict[str, Any], start_response: Callable[..., Any], management: str
    ) -> Iterable[bytes]:
        account = account_of(info.access_key) or management
        try:
            if info.service == "savingsplans":
                status, ctype, body = self._savings_plans(account, environ)
            elif info.service == "rds":
                status, ctype, body = self._reserved_db(account, info)
            else:
                status, ctype, body = 200, "text/xml", self._reserved_ec2()
        except ValueError as exc:
            status, headers, body = error_response(info, environ, 400, "ValidationException", str(exc))
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]
        start_response(
            f"{status} OK",
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(body))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [body]

    def _savings_plans(self, account: str, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        from finops_sandbox.faults import read_body

        request = json.loads(read_body(environ) or b"{}")
        size = request.get("maxResults", 1000)
        if not isinstance(size, int) or not 1 <= size <= 1000:
            raise ValueError("maxResults must be between 1 and 1000")
        states = set(request.get("states") or ("active", "retired"))
        plans = [
            {
                "savingsPlanId": r["lease_id"],
                "savingsPlanArn": r["commitment_id"],
                "description": "1 year No Upfront Compute Savings Plan",
                "start": f"{r['start_date']}T00:00:00.000Z",
                "end": f"{r['end_date']}T00:00:00.000Z",
                "state": r["state"],
                "savingsPlanType": SP_TYPE,
                "paymentOption": "No Upfront",
                "productTypes": ["EC2", "Fargate", "Lambda"],
                "currency": "USD",
                "commitment": format(r["hourly_commitment"].normalize(), "f"),
                "upfrontPaymentAmount": "0",
                "recurringPaymentAmount": format(r["hourly_commitment"].normalize(), "f"),
                "termDurationInSeconds": TERM_SECONDS,
                "tags": {},
            }
            for r in self._rows(account, "savings_plan")
            if r["state"] in states
        ]
        first = int(request.get("nextToken") or 0)
        page = plans[first : first + size]
        answer: dict[str, Any] = {"savingsPlans": page}
        if first + size < len(plans):
            answer["nextToken"] = str(first + size)
        return 200, "application/json", json.dumps(answer).encode()

    def _reserved_db(self, account: str, info: CallInfo) -> tuple[int, str, bytes]:
        size = int(info.form.get("MaxRecords", 100))
        if not 20 <= size <= 100:
            raise ValueError("MaxRecords must be between 20 and 100")
        rows = [r for r in self._rows(account, "reserved_instance") if r["region"] == info.region]
        first = int(info.form.get("Marker") or 0)
        items = "".join(
            "<ReservedDBInstance>"
            f"<ReservedDBInstanceId>{escape(r['commitment_id'])}</ReservedDBInstanceId>"
            f"<ReservedDBInstancesOfferingId>{uuid.uuid5(uuid.NAMESPACE_URL, r['usage_type'])}"
            "</ReservedDBInstancesOfferingId>"
            f"<DBInstanceClass>{escape(r['instance_class'])}</DBInstanceClass>"
            f"<StartTime>{r['start_date']}T00:00:00Z</StartTime><Duration>{TERM_SECONDS}</Duration>"
            "<FixedPrice>0.0</FixedPrice><UsagePrice>0.0</UsagePrice><CurrencyCode>USD</CurrencyCode>"
            f"<DBInstanceCount>{r['instance_count']}</DBInstanceCount>"
            f"<ProductDescription>{RDS_PRODUCTS.get(r['operation'], 'mysql')}</ProductDescription>"
            f"<OfferingType>No Upfront</OfferingType><MultiAZ>{str(r['multi_az']).lower()}</MultiAZ>"
            f"<State>{r['state']}</State><RecurringCharges><RecurringCharge>"
            f"<RecurringChargeAmount>{r['hourly_commitment']}</RecurringChargeAmount>"
            "<RecurringChargeFrequency>Hourly</RecurringChargeFrequency></RecurringCharge></RecurringCharges>"
            f"<ReservedDBInstanceArn>arn:aws:rds:{r['region']}:{account}:ri:{escape(r['commitment_id'])}"
            f"</ReservedDBInstanceArn><LeaseId>{r['lease_id']}</LeaseId>"
            "</ReservedDBInstance>"
            for r in rows[first : first + size]
        )
        marker = f"<Marker>{first + size}</Marker>" if first + size < len(rows) else ""
        body = (
            f'<DescribeReservedDBInstancesResponse xmlns="{_RDS_NS}"><DescribeReservedDBInstancesResult>'
            f"{marker}<ReservedDBInstances>{items}</ReservedDBInstances></DescribeReservedDBInstancesResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</DescribeReservedDBInstancesResponse>"
        )
        return 200, "text/xml", body.encode()

    @staticmethod
    def _reserved_ec2() -> bytes:
        return (
            f'<DescribeReservedInstancesResponse xmlns="{_EC2_NS}"><requestId>{uuid.uuid4()}</requestId>'
            "<reservedInstancesSet/></DescribeReservedInstancesResponse>"
        ).encode()
