"""The ad feed's marts as they must be, computed in Python from the bronze rows a test
wrote (tests/transform/bronze.py), independently of dbt: the engine tests compare each
engine's marts with these, not only with each other."""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.transform.bronze import BATCHED_AT


def latest(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """The latest version per key: a later load wins, then the row written later (the
    order bronze.py gives `_sdc_sequence`). Text parts of the key are compared cleaned."""

    def clean(value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    ordered = sorted(
        enumerate(rows), key=lambda pair: (pair[1].get("_sdc_batched_at", BATCHED_AT), pair[0])
    )
    return list({tuple(clean(row[k]) for k in key): row for _, row in ordered}.values())


def ratio(numerator: Decimal | int, denominator: Decimal | int, scale: int) -> Decimal | None:
    """numerator / denominator rounded half away from zero to `scale` decimals."""
    if not denominator:
        return None
    quotient = Decimal(numerator) / Decimal(denominator)
    return quotient.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def ad_performance(streams: dict[str, list[dict]]) -> dict[tuple, dict[str, Any]]:
    """fct_ad_performance by (day, channel, campaign_id)."""
    sums: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {"event_count": 0, "impressions": 0, "clicks": 0, "cost": Decimal("0.00")}
    )
    for event in latest(streams["ad_events"], ("event_id",)):
        row = sums[(event["date"], event["platform"].strip().lower(), event["campaign_id"])]
        row["event_count"] += 1
        row["impressions"] += event["impressions"]
        row["clicks"] += event["clicks"]
        row["cost"] += event["cost"]
    for row in sums.values():
        row["click_through_rate"] = ratio(row["clicks"], row["impressions"], 6)
        row["cost_per_click"] = ratio(row["cost"], row["clicks"], 4)
        row["cost_per_mille"] = ratio(row["cost"] * 1000, row["impressions"], 4)
    return dict(sums)


def budget_vs_actual(streams: dict[str, list[dict]]) -> dict[tuple, dict[str, Any]]:
    """rpt_budget_vs_actual by (day, channel)."""
    zero = Decimal("0.00")
    rows: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {
            "planned_budget": zero,
            "ad_platform_cost": zero,
            "exported_spend": zero,
            "is_planned": False,
        }
    )
    for plan in latest(streams["budget_plan"], ("date", "channel")):
        row = rows[(plan["date"], plan["channel"].strip().lower())]
        row["planned_budget"] += plan["planned_budget"]
        row["is_planned"] = True
    for event in latest(streams["ad_events"], ("event_id",)):
        rows[(event["date"], event["platform"].strip().lower())]["ad_platform_cost"] += event[
            "cost"
        ]
    for spend in latest(streams["marketing_spend"], ("date", "channel", "campaign_name")):
        rows[(spend["date"], spend["channel"].strip().lower())]["exported_spend"] += spend["spend"]
    for row in rows.values():
        row["ad_cost_over_plan"] = row["ad_platform_cost"] - row["planned_budget"]
        row["plan_used_ratio"] = ratio(row["ad_platform_cost"], row["planned_budget"], 4)
    return dict(rows)
