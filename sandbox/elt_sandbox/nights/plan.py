"""How much happens on one simulated day: Poisson counts with a weekday pattern.

A pure function of (scale, day, seed, anomalies), so a seed always gives the same night.
The daily means continue the seeded history at its ordinary (non-holiday) rate: 2025's
100,000 orders at scale 1 over 411.6 weighted days (Black Friday and December count more)
is 243 orders a normal day, times the weekday factor (weekends lower; the seeded history
itself has no weekday pattern). Counts are drawn before anomalies change them, so
`spike` is exactly 3x what the same seed gives on a normal night.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from elt_sandbox.crm_api.data import BASE_RECORDS
from elt_sandbox.shop.generate import _day_weights, expected_counts
from elt_sandbox.stripe_api.data import BASE_REFUNDS

FIRST_DAY = dt.date(2026, 1, 1)  # the day after the seeded shop history
DEFAULT_SEED = 1
# Monday..Sunday; the mean is 1, so a week holds seven average days
WEEKDAY_FACTORS = (1.1, 1.1, 1.1, 1.1, 1.1, 0.75, 0.75)
CUSTOMER_HISTORY_DAYS = 731  # the seeded customers signed up over 2024-2025
PRODUCT_LAUNCH_WEEKDAYS = (0, 3)  # a product is added to the catalogue on Mon and Thu
SPIKE_FACTOR = 3
DROP_SHARE = 0.3


@dataclass(frozen=True)
class Volumes:
    """Counts of one night, per kind of activity."""

    customers: int
    orders: int
    status_updates: int
    customer_updates: int
    product_launches: int
    late_orders: int
    refunds: int
    disputes: int
    orphan_charges: int
    crm_updates: int


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method below 30; a rounded normal above (exp(-mean) underflows)."""
    if mean <= 0:
        return 0
    if mean >= 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def daily_order_mean(scale: float) -> float:
    """Orders on an average ordinary day at `scale` (before the weekday factor)."""
    return expected_counts(scale)["orders"] / sum(_day_weights()[1])


def daily_means(scale: float, day: dt.date) -> dict[str, float]:
    factor = WEEKDAY_FACTORS[day.weekday()]
    orders = daily_order_mean(scale)
    customers = expected_counts(scale)["customers"] / CUSTOMER_HISTORY_DAYS
    return {
        "customers": customers * factor,
        "orders": orders * factor,
        "status_updates": 0.15 * orders * factor,
        "customer_updates": 0.2 + 0.05 * customers,
        "refunds": BASE_REFUNDS * scale / 365,
        "disputes": 0.02 + 0.001 * orders,
        "crm_updates": 2 + 0.0005 * BASE_RECORDS * scale,
    }


def volumes(scale: float, day: dt.date, seed: int, anomalies: frozenset[str]) -> Volumes:
    rng = random.Random(f"{seed}:{day.isoformat()}:volumes")
    means = daily_means(scale, day)
    drawn = {kind: poisson(rng, mean) for kind, mean in means.items()}
    orders = drawn["orders"]
    if "spike" in anomalies:
        orders *= SPIKE_FACTOR
    if "drop" in anomalies:
        orders = round(orders * DROP_SHARE)
    quiet = "quiet" in anomalies
    typical_orders = daily_order_mean(scale)
    return Volumes(
        customers=0 if quiet else drawn["customers"],
        orders=0 if quiet else orders,
        status_updates=0 if quiet else drawn["status_updates"],
        customer_updates=0 if quiet else drawn["customer_updates"],
        product_launches=int(day.weekday() in PRODUCT_LAUNCH_WEEKDAYS and not quiet),
        late_orders=max(3, round(0.3 * typical_orders)) if "late-rows" in anomalies else 0,
        refunds=0 if "stripe-stale" in anomalies else drawn["refunds"],
        disputes=0 if "stripe-stale" in anomalies else drawn["disputes"],
        orphan_charges=max(2, round(0.2 * typical_orders))
        if "orphans" in anomalies and "stripe-stale" not in anomalies
        else 0,
        crm_updates=0 if "crm-stale" in anomalies else drawn["crm_updates"],
    )
