"""Checks of the data itself, from the column profiles the target records per run.

Pure functions of ledger rows, like `rules.py`. Like is compared with like:

- **Volume by event date**, not by run: a stream's rows are summed per event day over
  every run (the initial snapshot included), so the number of runs a day, a quiet
  LOG_BASED run or a run that picks up a day in two parts change nothing. A day the run
  touched is compared with the same weekday of earlier weeks when there are three of
  them, else with the last `baseline_days` days, by median and MAD, with a Poisson floor
  so that a small stream gets bounds that fit its counts instead of an exemption.
- **Columns** (null share, mean of numbers, categories, event hour) are compared with the
  stream's earlier runs of the same kind (incremental with incremental): a snapshot of a
  year of orders has other null shares and statuses than one night of new orders.
- **Event dates against the stream's high-water mark**: rows far older (late-arriving,
  changing a closed period) or far newer (a date read day-first, a clock off by months).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from elt_monitor.settings import SEVERITIES, Thresholds

OK, WARNING, CRITICAL = SEVERITIES
MAD_TO_SD = 1.4826


def profile_of(row: dict[str, Any]) -> dict[str, Any] | None:
    text = row.get("profile")
    if not text:
        return None
    if "_profile" not in row:
        row["_profile"] = json.loads(text)
    return row["_profile"]


@dataclass(frozen=True)
class Issue:
    """A data finding before it is named for a stream (rules.Finding is built from it)."""

    code: str
    severity: str
    message: str
    details: dict[str, Any]


# -- statistics ----------------------------------------------------------------------------


def robust_center(values: Sequence[float]) -> tuple[float, float]:
    """(median, MAD scaled to a standard deviation)."""
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    return median, MAD_TO_SD * mad


def count_band(median: float, spread: float, z: float) -> float:
    """Half-width of the normal band for a count: z standard deviations, the larger of the
    history's own spread and the Poisson spread of the count itself (never below 1)."""
    return max(1.0, z * max(math.sqrt(max(median, 0.0)), spread))


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def day_totals(profiles: Iterable[dict[str, Any]]) -> Counter:
    """Rows per event day, summed over runs (oldest first). A file-read stream reads a
    changed file again whole, so its rows are counted per file and the latest read of a
    file replaces the earlier ones."""
    totals: Counter = Counter()
    by_file: dict[str, dict[str, int]] = {}
    for profile in profiles:
        files = profile.get("event_dates_by_file")
        if files:
            by_file.update(files)
            continue
        for day, count in (profile.get("event_dates") or {}).items():
            totals[day] += count
    for days in by_file.values():
        for day, count in days.items():
            totals[day] += count
    return totals


def with_run(history: list[dict[str, Any]], current: dict[str, Any]) -> Counter:
    return day_totals([*history, current])


def baseline(
    totals: Counter, day: str, window_days: int, after: str | None = None
) -> tuple[list[int], bool]:
    """Totals of the days before `day` to compare it with, and whether they are the same
    weekday: the same weekday of the last five weeks when at least three of them have
    data, else every day of the window that has data. Only days after `after` (the first
    load's latest event day) count: a first load's history mixes seasons, holidays and
    backfills, so the volume a stream is judged by is learnt from the runs that followed
    it."""
    target = _day(day)
    earlier = {
        d: n
        for d, n in totals.items()
        if 0 < (target - _day(d)).days <= max(window_days, 35)
        and n > 0
        and (after is None or d > after)
    }
    same_weekday = [n for d, n in earlier.items() if (target - _day(d)).days % 7 == 0]
    if len(same_weekday) >= 3:
        return same_weekday, True
    return [n for d, n in earlier.items() if (target - _day(d)).days <= window_days], False


# -- rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayBand:
    """What an event day is expected to hold: the baseline's median and the band around
    it (`volume_z` below, `spike_z` above)."""

    median: float
    lower: float
    upper: float


def day_band(
    totals_before: Counter, day: str, limits: Thresholds, first_load_hwm: str | None = None
) -> DayBand | None:
    """The band of one event day, None before three baseline days exist. Without three
    same-weekday days to compare with, the band is `weekday_floor` of the median wider
    on each side: a mix of weekdays and weekends is not one distribution."""
    values, same_weekday = baseline(totals_before, day, int(limits.baseline_days), first_load_hwm)
    if len(values) < 3:
        return None
    median, spread = robust_center(values)
    # weekdays and weekends mixed: their difference is no anomaly
    mixed = 0.0 if same_weekday else limits.weekday_floor * median
    return DayBand(
        median,
        median - count_band(median, spread, limits.volume_z) - mixed,
        median + count_band(median, spread, limits.spike_z) + mixed,
    )


def volume_by_day(
    history: list[dict[str, Any]],
    current: dict[str, Any],
    limits: Thresholds,
    complete_before: dt.date,
    first_load_hwm: str | None = None,
    previous_start: dt.date | None = None,
) -> list[Issue]:
    """Spikes and drops of the event days this run touched (drops only of complete days:
    the day in progress is still filling up), against `day_band`. A day is reported by
    the run that takes it out of its band, not again by every later run that touches it
    (a status update of an order of a spike day); a drop also when the day was still
    open at the previous run (`previous_start`), which has now completed it."""
    totals_before = day_totals(history)
    totals = with_run(history, current)
    hwm = max(totals_before, default=None)
    found = []
    for day, count in sorted((current.get("event_dates") or {}).items()):
        if hwm and (_day(hwm) - _day(day)).days > limits.late_days:
            continue  # late rows: judged by late_rows
        band = day_band(totals_before, day, limits, first_load_hwm)
        if band is None:
            continue
        median, upper, lower = band.median, band.upper, band.lower
        total, before = totals[day], totals_before.get(day, 0)
        details = {"event_date": day, "rows": total, "expected": median, "run_rows": count}
        still_open = previous_start is not None and _day(day) >= previous_start
        if total > upper and before <= upper:
            ratio = total / median if median else math.inf
            severity = CRITICAL if ratio >= limits.spike_critical_ratio else WARNING
            found.append(
                Issue(
                    "VOLUME_SPIKE",
                    severity,
                    f"{total} rows for {day}, expected about {median:g} (upper bound "
                    f"{upper:.0f}; x{ratio:.1f})",
                    details | {"upper": round(upper, 1)},
                )
            )
        elif (
            _day(day) < complete_before
            and total < lower
            and (before == 0 or before >= lower or still_open)
        ):
            drop = (median - total) / median * 100 if median else 0.0
            severity = CRITICAL if drop >= limits.critical_drop_pct else WARNING
            found.append(
                Issue(
                    "VOLUME_DROP",
                    severity,
                    f"{total} rows for {day}, expected about {median:g} (lower bound "
                    f"{lower:.0f}; {drop:.0f}% below)",
                    details | {"lower": round(lower, 1), "drop_pct": round(drop, 1)},
                )
            )
    return found


def event_dates_out_of_range(
    history: list[dict[str, Any]],
    current: dict[str, Any],
    limits: Thresholds,
    job_latest: str | None = None,
) -> list[Issue]:
    """Rows far behind the stream's high-water mark (late-arriving: a closed period
    changes), or far ahead of the latest event date of the job's data (`job_latest`, the
    median over its streams of each one's latest: dates misread, a clock off). A sparse
    stream (a product launched after weeks) is ahead of its own mark, not of the job's."""
    hwm_text = max(day_totals(history), default=None)
    dates = current.get("event_dates") or {}
    rows = sum(dates.values())
    if not hwm_text or not rows:
        return []
    hwm = _day(hwm_text)
    reference = max(hwm, _day(job_latest)) if job_latest else hwm
    late = {d: n for d, n in dates.items() if (hwm - _day(d)).days > limits.late_days}
    ahead = {d: n for d, n in dates.items() if (_day(d) - reference).days > limits.max_days_ahead}
    found = []
    late_rows = sum(late.values())
    if late_rows >= max(limits.late_min_rows, limits.late_share * rows):
        found.append(
            Issue(
                "LATE_ROWS",
                WARNING,
                f"{late_rows} of {rows} rows are for event dates more than "
                f"{limits.late_days:g} days before the stream's latest ({hwm_text}): "
                f"{min(late)}..{max(late)}; closed periods changed",
                {"rows": late_rows, "dates": dict(sorted(late.items())[:31]), "hwm": hwm_text},
            )
        )
    ahead_rows = sum(ahead.values())
    if ahead_rows:
        share = ahead_rows / rows
        severity = CRITICAL if share >= limits.late_share or ahead_rows >= 3 else WARNING
        found.append(
            Issue(
                "EVENT_DATE_AHEAD",
                severity,
                f"{ahead_rows} of {rows} rows are dated more than {limits.max_days_ahead:g} "
                f"days after the data's latest event date {reference}: "
                f"{min(ahead)}..{max(ahead)} (dates misread, e.g. day-first?)",
                {
                    "rows": ahead_rows,
                    "dates": dict(sorted(ahead.items())[:31]),
                    "reference": str(reference),
                },
            )
        )
    return found


def job_latest_date(profiles: Iterable[dict[str, Any]]) -> str | None:
    """The latest event date of a job run's data: the median over its streams of each
    one's latest, so one stream's misdated rows do not move it."""
    latest = sorted(max(p["event_dates"]) for p in profiles if p.get("event_dates"))
    return latest[(len(latest) - 1) // 2] if latest else None


def duplicate_keys(history: list[dict[str, Any]], current: dict[str, Any]) -> list[Issue]:
    dups = current.get("key_duplicates")
    if not dups:
        return []
    known = any((p.get("key_duplicates") or 0) > 0 for p in history)
    return [
        Issue(
            "DUPLICATE_KEYS",
            WARNING if known else CRITICAL,
            f"{dups} rows repeat a primary key already in this run"
            + (" (earlier runs had duplicates too)" if known else ""),
            {"duplicates": dups},
        )
    ]


def null_shares(
    history: list[dict[str, Any]], current: dict[str, Any], limits: Thresholds
) -> list[Issue]:
    rows = current.get("rows") or 0
    if rows < limits.min_column_rows or len(history) < limits.min_column_runs:
        return []
    found = []
    for name, column in (current.get("columns") or {}).items():
        pooled_rows = sum(p.get("rows") or 0 for p in history if name in (p.get("columns") or {}))
        if pooled_rows < limits.min_column_rows:
            continue
        pooled_nulls = sum(p["columns"][name]["nulls"] for p in history if name in p["columns"])
        expected = pooled_nulls / pooled_rows
        share = column["nulls"] / rows
        noise = limits.volume_z * math.sqrt(max(expected * (1 - expected), 1e-9) / rows)
        if share - expected > max(noise, limits.null_share_jump):
            severity = CRITICAL if share >= 0.5 and expected < 0.05 else WARNING
            found.append(
                Issue(
                    "NULL_SHARE",
                    severity,
                    f"column {name}: {share:.0%} NULL in this run, {expected:.1%} before",
                    {"column": name, "share": round(share, 4), "expected": round(expected, 4)},
                )
            )
    return found


def _mean(column: dict[str, Any]) -> float | None:
    if column.get("kind") not in ("number", "decimal") or "sum" not in column:
        return None
    if (column.get("count") or 0) == 0:
        return None
    return float(column["sum"]) / column["count"]


def numeric_means(
    history: list[dict[str, Any]], current: dict[str, Any], limits: Thresholds
) -> list[Issue]:
    """The mean of each number column against its earlier runs' means, on a log scale:
    prices x100 or revenue at half price with normal row counts."""
    found = []
    for name, column in (current.get("columns") or {}).items():
        mean = _mean(column)
        if mean is None or mean <= 0 or column["count"] < limits.min_column_rows:
            continue
        usable = [
            c
            for p in history
            if (c := (p.get("columns") or {}).get(name))
            and (c.get("count") or 0) >= limits.min_column_rows
            and _mean(c) is not None
        ][-int(limits.baseline_days) :]
        means = [_mean(c) for c in usable]
        if len(means) < limits.min_column_runs or min(means) <= 0:
            continue
        if any(float(c.get("min") or 0) < 0 for c in usable):
            continue  # signed amounts (charges and refunds mixed): the mean is no level
        median, spread = robust_center([math.log(m) for m in means])
        # the centre pools the runs (less noisy than the median of small runs' means),
        # leaving out runs that were far off themselves (one bad night is no new normal)
        usual = [
            c
            for c, m in zip(usable, means, strict=True)
            if abs(math.log(m) - median) < math.log(limits.mean_critical_ratio)
        ]
        center = math.log(sum(float(c["sum"]) for c in usual) / sum(c["count"] for c in usual))
        # the run's own sampling noise: the usual spread of values over the run's size
        stds = [
            c["std"] / m
            for p in history
            if (c := (p.get("columns") or {}).get(name))
            and c.get("std") is not None
            and (m := _mean(c))
        ]
        if stds and statistics.median(stds) > limits.mean_max_cv:
            continue  # mostly zeros with a few large values (amount_refunded): no level
        if stds:
            spread = max(spread, statistics.median(stds) / math.sqrt(column["count"]))
        shift = math.log(mean) - center
        if abs(shift) > max(limits.spike_z * spread, math.log(limits.mean_shift_ratio)):
            ratio = math.exp(shift)
            severity = CRITICAL if abs(shift) >= math.log(limits.mean_critical_ratio) else WARNING
            found.append(
                Issue(
                    "MEAN_SHIFT",
                    severity,
                    f"column {name}: mean {mean:.4g} is x{ratio:.3g} "
                    f"the usual {math.exp(center):.4g}",
                    {"column": name, "mean": mean, "expected": math.exp(center), "ratio": ratio},
                )
            )
    return found


def categories(
    history: list[dict[str, Any]], current: dict[str, Any], limits: Thresholds
) -> list[Issue]:
    """A value that was (almost) never seen before and now dominates (a currency switch)."""
    found = []
    for name, column in (current.get("columns") or {}).items():
        values = column.get("values")
        if not values:
            continue
        rows = sum(values.values())
        pooled: Counter = Counter()
        for p in history:
            pooled.update(((p.get("columns") or {}).get(name) or {}).get("values") or {})
        total = sum(pooled.values())
        if rows < limits.min_column_rows or total < limits.min_column_rows:
            continue
        for value, count in values.items():
            share, before = count / rows, pooled.get(value, 0) / total
            if share >= limits.category_new_share and before < 0.01:
                found.append(
                    Issue(
                        "VALUE_SHIFT",
                        CRITICAL,
                        f"column {name}: {value!r} is {share:.0%} of this run, "
                        f"{before:.1%} of earlier runs",
                        {"column": name, "value": value, "share": round(share, 4)},
                    )
                )
    return found


def _shift_gain(hours: Sequence[int], usual: Sequence[float], shift: int) -> float:
    """Log-likelihood of the run's hours under the usual rhythm moved by `shift` hours,
    minus under the usual rhythm itself."""
    return sum(
        n * (math.log(usual[(h - shift) % 24]) - math.log(usual[h]))
        for h, n in enumerate(hours)
        if n
    )


def event_hours(
    history: list[dict[str, Any]], current: dict[str, Any], limits: Thresholds
) -> list[Issue]:
    """The run's event times shifted by hours against the stream's usual rhythm of the
    day: timestamps written in the wrong time zone. The test asks how much better the
    usual rhythm, moved by k hours, explains the run than the rhythm unmoved (a likelihood
    ratio over every k of at least `hour_shift_hours`); a rhythm that is flat over the
    day explains every shift equally and never fires."""
    hours = current.get("event_hours")
    if not hours or sum(hours) < limits.min_column_rows * 2:
        return []
    pooled = [0.5] * 24  # a little mass in every hour: an hour never seen is not impossible
    runs = 0
    for p in history:
        if p.get("event_hours"):
            runs += 1
            pooled = [a + b for a, b in zip(pooled, p["event_hours"], strict=True)]
    if runs < limits.min_column_runs or sum(pooled) < 500:
        return []
    usual = [n / sum(pooled) for n in pooled]
    # a rhythm close to flat (events spread evenly over the day) cannot show a shift
    rhythm = sum(p * math.log(p * 24) for p in usual)  # KL divergence from uniform, nats
    if rhythm < limits.hour_rhythm_min:
        return []
    smallest = math.ceil(limits.hour_shift_hours)
    gain, shift = max(
        (_shift_gain(hours, usual, k), k) for k in range(-11, 13) if abs(k) >= smallest
    )
    if gain < limits.hour_shift_evidence:
        return []
    return [
        Issue(
            "EVENT_HOUR_SHIFT",
            CRITICAL,
            f"event times look shifted by {shift:+d} h against the stream's usual time of "
            f"day (likelihood ratio e^{gain:.0f}): a time zone error?",
            {"shift_hours": shift, "evidence": round(gain, 1)},
        )
    ]


def activity(history_rows: Sequence[int], rows: int, limits: Thresholds) -> list[Issue]:
    """A stream that brought no row, judged by how unlikely that is for it: with `mean`
    rows a run (its last `activity_runs` runs, Poisson-like), `k` quiet runs in a row have
    a chance of exp(-mean x k). Below 1/1000 it is a warning, below one in a million and
    `stale_runs` runs long critical. Streams that are often empty (disputes, refunds at a
    small shop) never raise it; one that brings hundreds a run does at the first quiet run."""
    if rows > 0:
        return []
    history_rows = list(history_rows)
    quiet_runs = 1  # this one, and the quiet runs right before it
    while quiet_runs <= len(history_rows) and history_rows[-quiet_runs] == 0:
        quiet_runs += 1
    # how active the stream was before it went quiet
    recent = history_rows[: len(history_rows) - (quiet_runs - 1)][-int(limits.activity_runs) :]
    if len(recent) < limits.min_column_runs:
        return []
    mean = statistics.fmean(recent)
    chance = math.exp(-mean * quiet_runs)
    if chance >= limits.quiet_chance:
        return []
    severity = (
        CRITICAL if quiet_runs >= limits.stale_runs and chance < limits.quiet_chance**2 else WARNING
    )
    return [
        Issue(
            "STREAM_QUIET",
            severity,
            f"no new rows for {quiet_runs} run(s); it brings about {mean:.1f} a run "
            f"(chance of this quiet: {chance:.1e})",
            {"quiet_runs": quiet_runs, "mean_rows": round(mean, 2), "chance": chance},
        )
    ]


def related_days(
    lead_history: list[dict[str, Any]],
    lead_now: dict[str, Any],
    follow_history: list[dict[str, Any]],
    follow_now: dict[str, Any],
    limits: Thresholds,
    complete_before: dt.date,
) -> list[Issue]:
    """Per complete event day, rows of a following stream (charges) against its leading
    stream (orders), by their usual ratio: a source that stops while a related one grows
    is critical, a ratio far off is a warning."""
    lead_before, follow_before = day_totals(lead_history), day_totals(follow_history)
    lead_all = with_run(lead_history, lead_now)
    follow_all = with_run(follow_history, follow_now)
    ratios = [
        follow_before[d] / lead_before[d]
        for d in lead_before
        if lead_before[d] > 0 and follow_before.get(d, 0) > 0
    ]
    if len(ratios) < 7:
        return []
    ratio = statistics.median(ratios[-int(limits.baseline_days) :])
    found = []
    lead_dates = lead_now.get("event_dates") or {}
    for day in sorted(lead_dates):
        if _day(day) >= complete_before:
            continue
        lead, follow = lead_all[day], follow_all[day]
        expected = ratio * lead
        if expected < limits.min_column_rows / 2:
            continue
        lower = expected - count_band(expected, 0.0, limits.volume_z)
        if follow == 0:
            severity = CRITICAL
        elif follow < lower:
            severity = WARNING
        else:
            continue
        found.append(
            Issue(
                "RELATED_STREAM_GAP",
                severity,
                f"{follow} rows for {day} while the related stream has {lead} "
                f"(usually {ratio:.2f} per row: about {expected:.0f})",
                {"event_date": day, "rows": follow, "related_rows": lead, "ratio": ratio},
            )
        )
    return found


def source_deletes(source_rows: int | None, lake_keys: int | None) -> list[Issue]:
    """More distinct keys in the lake than rows in the source table: rows were deleted at
    the source, which an INCREMENTAL stream cannot see, so the lake (and the marts built
    on the latest version of each key) still has them. Fewer keys in the lake is not
    judged: a row inserted after the read and before the count explains it. A warning,
    repeated until handled: the lake keeps the deleted keys whatever is re-read, so the
    fix is to read the stream LOG_BASED (or delete them downstream) and then `ack`."""
    if source_rows is None or lake_keys is None or lake_keys <= source_rows:
        return []
    gone = lake_keys - source_rows
    return [
        Issue(
            "SOURCE_ROWS_DELETED",
            WARNING,
            f"the source table holds {source_rows} rows but the lake {lake_keys} distinct "
            f"keys: {gone} row(s) deleted at the source, which this INCREMENTAL stream "
            "cannot see, are still in the lake and the marts (read it LOG_BASED to follow "
            "deletes; `elt-monitor ack` once handled)",
            {"source_rows": source_rows, "lake_keys": lake_keys, "deleted": gone},
        )
    ]


def orphans(entries: list[dict[str, Any]], limits: Thresholds) -> list[Issue]:
    """Rows whose declared reference names no row of the referenced stream (a charge for
    an order the shop never had). A small share is a race (an order created after the
    shop's read, its charge before Stripe's) and is left alone; `orphan_warn_share` is a
    warning, `orphan_critical_share` with at least 3 rows critical."""
    found = []
    for entry in entries:
        checked, missing = int(entry.get("checked") or 0), int(entry.get("orphans") or 0)
        if not checked or not missing:
            continue
        share = missing / checked
        if share >= limits.orphan_critical_share and missing >= 3:
            severity = CRITICAL
        elif share >= limits.orphan_warn_share:
            severity = WARNING
        else:
            continue
        found.append(
            Issue(
                "ORPHAN_KEYS",
                severity,
                f"{missing} of {checked} rows ({share:.1%}) name a {entry['column']} that is "
                f"not in {entry['references']} (e.g. {', '.join(entry.get('sample') or [])})",
                {
                    "column": entry["column"],
                    "references": entry["references"],
                    "checked": checked,
                    "orphans": missing,
                    "share": round(share, 4),
                    "sample": entry.get("sample") or [],
                },
            )
        )
    return found
