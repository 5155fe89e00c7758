"""Ledger rows: column blocks of integer codes and micro-dollars, stacked into the contract's table.

Why codes and micro-dollars: the ledger holds millions of rows for a large organisation; building them
as numpy blocks and decoding once (dictionary strings, decimal128 from int64 words) keeps that fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from finops_sandbox import catalog as cat
from finops_sandbox.world.config import MICRO
from finops_sandbox.world.org import Account
from finops_sandbox.world.workloads import Workload


class RowSink:
    """Collects ledger rows as column blocks of integer codes and micro-dollars, then stacks them."""

    _FIELDS = ("day", "acct", "svc", "region", "ut", "op", "rec", "wl", "unb", "amo", "net", "bl", "qty")

    def __init__(self, cols: dict[str, list[Any]]) -> None:
        self.strings: dict[str, dict[str, int]] = {"svc": {}, "region": {}, "ut": {}, "op": {}, "rec": {}}
        self.s_acct = np.array(cols["acct"], dtype=np.int32)
        self.s_wl = np.array(cols["wl"], dtype=np.int32)
        self.s_svc = np.array([self.code("svc", v) for v in cols["svc"]], dtype=np.int32)
        self.s_region = np.array([self.code("region", v) for v in cols["region"]], dtype=np.int32)
        self.s_ut = np.array([self.code("ut", v) for v in cols["ut"]], dtype=np.int32)
        self.s_op = np.array([self.code("op", v) for v in cols["op"]], dtype=np.int32)
        self.blocks: list[dict[str, np.ndarray]] = []

    def code(self, kind: str, value: str | None) -> int:
        """The integer code of a string (-1 for None: a null in the ledger)."""
        if value is None:
            return -1
        table = self.strings[kind]
        return table.setdefault(value, len(table))

    @staticmethod
    def _net(unb: np.ndarray, acct: np.ndarray, disc: np.ndarray | None) -> np.ndarray:
        if disc is None:
            return unb
        return np.rint(unb * (1.0 - disc[acct])).astype(np.int64)

    def grid_rows(
        self,
        keep: np.ndarray,
        day_idx: np.ndarray,
        ser_idx: np.ndarray,
        rec: str,
        unb: np.ndarray,
        amo: np.ndarray,
        bl: np.ndarray,
        qty: np.ndarray,
        disc: np.ndarray | None,
    ) -> None:
        """Rows for the (day, series) cells selected by `keep`; net applies the account's discount."""
        s = ser_idx[keep]
        acct = self.s_acct[s]
        u = unb[keep]
        self.blocks.append(
            {
                "day": day_idx[keep].astype(np.int32),
                "acct": acct,
                "svc": self.s_svc[s],
                "region": self.s_region[s],
                "ut": self.s_ut[s],
                "op": self.s_op[s],
                "rec": np.full(s.size, self.code("rec", rec), dtype=np.int32),
                "wl": self.s_wl[s],
                "unb": u,
                "amo": amo[keep],
                "net": self._net(u, acct, disc),
                "bl": bl[keep],
                "qty": np.rint(qty[keep] * MICRO).astype(np.int64),
            }
        )

    def account_rows(
        self,
        rows: np.ndarray,
        acct: int,
        svc: str,
        region: str,
        ut: str,
        rec: str,
        unb: np.ndarray,
        amo: np.ndarray,
        bl: np.ndarray,
        qty: np.ndarray,
        disc: np.ndarray | None,
        op: str | None = None,
    ) -> None:
        """Account-level rows (no workload) on the given day indices."""
        n = len(rows)
        if n == 0:
            return
        accts = np.full(n, acct, dtype=np.int32)
        unb = np.asarray(unb, dtype=np.int64)

        def const(kind: str, value: str | None) -> np.ndarray:
            return np.full(n, self.code(kind, value), dtype=np.int32)

        self.blocks.append(
            {
                "day": np.asarray(rows, dtype=np.int32),
                "acct": accts,
                "svc": const("svc", svc),
                "region": const("region", region),
                "ut": const("ut", ut),
                "op": const("op", op),
                "rec": const("rec", rec),
                "wl": np.full(n, -1, dtype=np.int32),
                "unb": unb,
                "amo": np.asarray(amo, dtype=np.int64),
                "net": self._net(unb, accts, disc),
                "bl": np.asarray(bl, dtype=np.int64),
                "qty": np.rint(np.asarray(qty, dtype=np.float64) * MICRO).astype(np.int64),
            }
        )

    def usage_by_account_service_month(self, month_of: np.ndarray) -> dict[tuple[int, int, int], int]:
        """Unblended micro-dollars of Usage rows per (account index, service code, month) so far."""
        usage_code = self.strings["rec"].get(cat.RT_USAGE)
        totals: dict[tuple[int, int, int], int] = {}
        months = month_of.astype(np.int64)
        for block in self.blocks:
            if block["rec"].size == 0 or block["rec"][0] != usage_code:
                continue
            key = (block["acct"].astype(np.int64) * 1_000 + block["svc"]) * 100_000 + months[block["day"]]
            uniq, inv = np.unique(key, return_inverse=True)
            sums = np.zeros(uniq.size, dtype=np.int64)
            np.add.at(sums, inv, block["unb"])
            for k, v in zip(uniq.tolist(), sums.tolist(), strict=True):
                ident = (k // 100_000_000, (k // 100_000) % 1_000, k % 100_000)
                totals[ident] = totals.get(ident, 0) + v
        return totals

    def finish(self, days: np.ndarray) -> dict[str, Any]:
        """Stack the blocks ordered by (day, account), one field at a time to bound peak memory."""
        day = np.concatenate([b["day"] for b in self.blocks])
        acct = np.concatenate([b["acct"] for b in self.blocks])
        order = np.argsort(day.astype(np.int64) * 1_000_000 + acct, kind="stable")
        out: dict[str, Any] = {"day": days[day[order]], "acct": acct[order]}
        del day, acct
        for f in self._FIELDS[2:]:
            out[f] = np.concatenate([b.pop(f) for b in self.blocks])[order]
        self.blocks.clear()
        out["strings"] = {k: list(v) for k, v in self.strings.items()}
        return out


def _decimal_array(micros: np.ndarray) -> pa.Array:
    """decimal128(18, 6) from int64 micro-units without a Python loop (little-endian 128-bit words)."""
    lo = np.ascontiguousarray(micros, dtype=np.int64)
    words = np.empty(lo.size * 2, dtype=np.int64)
    words[0::2] = lo
    words[1::2] = np.where(lo < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(18, 6), lo.size, [None, pa.py_buffer(words)])


def _string_array(codes: np.ndarray, values: Sequence[str]) -> pa.Array:
    """Decode integer codes (-1 = null) into a plain string array."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(values), pa.string())).cast(pa.string())


def ledger_table(lc: dict[str, Any], accounts: list[Account], workloads: list[Workload]) -> pa.Table:
    """The finished ledger columns (`RowSink.finish`) as the contract's table; consumes `lc`."""
    strings = lc["strings"]
    n_rows = lc["day"].size
    return pa.table(
        {
            "usage_date": pa.Array.from_buffers(
                pa.date32(), n_rows, [None, pa.py_buffer(lc.pop("day").astype(np.int32))]
            ),
            "account_id": _string_array(lc.pop("acct"), [a.account_id for a in accounts]),
            "service": _string_array(lc.pop("svc"), strings["svc"]),
            "region": _string_array(lc.pop("region"), strings["region"]),
            "usage_type": _string_array(lc.pop("ut"), strings["ut"]),
            # CE's OPERATION dimension, modelled where it tells reservable offers apart (EC2 instances,
            # RDS databases and their RI fees; see sandbox/offers.py); null elsewhere.
            "operation": _string_array(lc.pop("op"), strings["op"]),
            "record_type": _string_array(lc.pop("rec"), strings["rec"]),
            "workload_id": _string_array(lc.pop("wl"), [w.workload_id for w in workloads]),
            "unblended_cost": _decimal_array(lc.pop("unb")),
            "amortized_cost": _decimal_array(lc.pop("amo")),
            "net_unblended_cost": _decimal_array(lc.pop("net")),
            "blended_cost": _decimal_array(lc.pop("bl")),
            "usage_quantity": _decimal_array(lc.pop("qty")),
        }
    )
