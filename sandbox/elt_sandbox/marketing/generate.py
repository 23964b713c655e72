"""A year (2025) of Google Sheets exports, split into ISO-week files, with known bad rows.

Valid content is exact and deterministic: 365 marketing_spend rows (one per day) and
1,200 campaign_performance rows. The formats vary the way spreadsheet exports do (BOM,
CRLF, "$1,234.56", US dates, a cp1252 file, header case and spacing, blank trailing
rows). On top of the valid rows, `BAD_ROWS` adds 15 deliberately broken lines (9 spend,
6 campaign performance; among them a decimal comma `12,50`, a euro amount, clicks written
`1200.0` and `1e3`, three decimals, which the tap's strict grammar quarantines); the
manifest records, per file, the good row count and each bad row's line and reason code,
so tests can reconcile the tap's output exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from elt_sandbox.marketing.json_feed import write_feed

SEED = 2025
YEAR_START = dt.date(2025, 1, 1)
DAYS = 365
# (campaign_id, campaign_name, channel): the same names in both exports. CMP-001 carries an
# en dash and an accent, so the cp1252 file really differs from its UTF-8 siblings.
CAMPAIGNS = [
    ("CMP-001", "Winter Sale \u2013 Café", "google_ads"),
    ("CMP-002", "Brand Search", "google_ads"),
    ("CMP-003", "Retargeting", "facebook"),
    ("CMP-004", "Lookalike Audiences", "facebook"),
    ("CMP-005", "Stories Launch", "instagram"),
    ("CMP-006", "Newsletter", "email"),
    ("CMP-007", "Black Friday", "email"),
    ("CMP-008", "Creators", "tiktok"),
]
SPEND_HEADER = ["date", "channel", "campaign_name", "spend", "impressions", "clicks"]
PERFORMANCE_HEADER = [
    "date", "campaign_id", "campaign_name", "channel", "conversions", "revenue_attributed",
]  # fmt: skip


@dataclass
class ExportFile:
    """One CSV file: its rows as text cells, and how to write them."""

    name: str
    stream: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    bad: list[dict] = field(default_factory=list)  # {"line": n, "reason": code}
    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\n"
    trailing_blank_lines: int = 0

    def render(self) -> bytes:
        lines = [",".join(self.header)] + [",".join(_quote(c) for c in row) for row in self.rows]
        text = self.newline.join(lines) + self.newline + self.newline * self.trailing_blank_lines
        data = text.encode(self.encoding)
        return (b"\xef\xbb\xbf" + data) if self.bom else data

    @property
    def good(self) -> int:
        return len(self.rows) - len(self.bad)


def _quote(cell: str) -> str:
    return f'"{cell}"' if ("," in cell or '"' in cell) and not cell.startswith('"') else cell


def _week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _money(value: Decimal, style: str) -> str:
    if style == "dollar":
        return f"${value:,.2f}"
    return f"{value:.2f}"


def _date(day: dt.date, style: str) -> str:
    if style == "us":
        return f"{day.month}/{day.day}/{day.year}"
    if style == "day_first":
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    return day.isoformat()


def new_export_file(stream: str, day: dt.date) -> ExportFile:
    """The empty file of `stream` for the ISO week of `day`, in that week's format (the
    seeded year and the simulated nights share it, so a night's rows look like the week's)."""
    week = _week(day)
    week_number = int(week[-2:])
    name = f"{stream}_{week}.csv"
    header = SPEND_HEADER if stream == "marketing_spend" else PERFORMANCE_HEADER
    if week_number % 5 == 0:  # some exports have "Title Case" headers with spaces
        header = [h.replace("_", " ").title() for h in header]
    return ExportFile(
        name=name,
        stream=stream,
        header=header,
        bom=week_number % 4 == 1,
        newline="\r\n" if week_number % 3 == 0 else "\n",
        trailing_blank_lines=2 if week_number % 7 == 0 else 0,
        encoding="cp1252" if name == "campaign_performance_2025-W20.csv" else "utf-8",
    )


def day_rows(
    rng: random.Random, day: dt.date, day_first: bool = False
) -> dict[str, list[list[str]]]:
    """One day's rows per stream: one spend row (campaigns take turns) and 4 (until mid
    April 2025) or 3 campaign rows. `day_first` writes the dates as dd/mm/yyyy."""
    offset = (day - YEAR_START).days
    week_number = int(_week(day)[-2:])
    date_style = "day_first" if day_first else ("us" if week_number % 6 == 2 else "iso")
    money_style = "dollar" if week_number % 4 == 3 else "plain"
    campaign = CAMPAIGNS[offset % len(CAMPAIGNS)]
    impressions = rng.randint(800, 60_000)
    clicks = rng.randint(10, max(11, impressions // 20))
    spend = Decimal(rng.randint(2_000, 450_000)) / 100
    spend_rows = [
        [
            _date(day, date_style),
            campaign[2],
            campaign[1],
            _money(spend, money_style),
            f"{impressions}",
            f"{clicks}",
        ]
    ]
    performance_rows = []
    per_day = 4 if offset < 105 else 3
    for campaign_id, name, channel in rng.sample(CAMPAIGNS, per_day):
        revenue = Decimal(rng.randint(0, 2_500_000)) / 100
        performance_rows.append(
            [
                _date(day, date_style),
                campaign_id,
                name,
                channel,
                str(rng.randint(0, 400)),
                _money(revenue, money_style),
            ]
        )
    return {"marketing_spend": spend_rows, "campaign_performance": performance_rows}


def build_exports(seed: int = SEED) -> list[ExportFile]:
    """All files, in name order; valid rows first within a file, bad rows appended."""
    rng = random.Random(seed)
    files: dict[str, ExportFile] = {}
    for offset in range(DAYS):
        day = YEAR_START + dt.timedelta(days=offset)
        for stream, rows in day_rows(rng, day).items():
            export = new_export_file(stream, day)
            files.setdefault(export.name, export).rows.extend(rows)
    _add_bad_rows(files)
    return [files[name] for name in sorted(files)]


# (file, cells, reason code): appended after the valid rows of that file.
BAD_ROWS = [
    ("marketing_spend_2025-W03.csv", ["2025-13-45", "google_ads", "Winter Sale \u2013 Café", "10.00", "100", "5"], "unparseable_date"),
    ("marketing_spend_2025-W08.csv", ["2025-02-20", "facebook", "Retargeting", "N/A", "100", "5"], "invalid_decimal"),
    ("marketing_spend_2025-W12.csv", ["2025-03-20", "email", "Newsletter"], "wrong_column_count"),
    ("marketing_spend_2025-W16.csv", ["2025-04-17", "tiktok", "Creators", "12.00", "100", "5", "extra"], "wrong_column_count"),
    ("marketing_spend_2025-W26.csv", ["Total", "", "", "9999.99", "", ""], "summary_line"),
    ("marketing_spend_2025-W33.csv", ["2025-08-14", "instagram", "Stories Launch", "15.00", "-40", "2"], "negative_value"),
    ("campaign_performance_2025-W05.csv", ["2025-01-30", "CMP-003", "Retargeting", "facebook", "N/A", "10.00"], "invalid_integer"),
    ("campaign_performance_2025-W21.csv", ["31/05/2025", "CMP-001", "Winter Sale \u2013 Café", "google_ads", "3", "10.00"], "unparseable_date"),
    ("campaign_performance_2025-W40.csv", ["2025-10-02", "CMP-006"], "wrong_column_count"),
    ("campaign_performance_2025-W44.csv", ["2025-10-30", "CMP-008", "Creators", "tiktok", "-3", "10.00"], "negative_value"),
    # The strict grammar (issue 12): each of these once loaded a wrong value.
    ("marketing_spend_2025-W36.csv", ["2025-09-04", "google_ads", "Brand Search", "12,50", "100", "5"], "invalid_decimal"),
    ("marketing_spend_2025-W41.csv", ["2025-10-09", "email", "Newsletter", "€12.50", "100", "5"], "wrong_currency"),
    ("marketing_spend_2025-W47.csv", ["2025-11-20", "facebook", "Retargeting", "12.00", "1000", "1200.0"], "invalid_integer"),
    ("campaign_performance_2025-W30.csv", ["2025-07-24", "CMP-005", "Stories Launch", "instagram", "3", "19.999"], "too_many_decimals"),
    ("campaign_performance_2025-W49.csv", ["2025-12-04", "CMP-002", "Brand Search", "google_ads", "1e3", "10.00"], "invalid_integer"),
]  # fmt: skip


def _add_bad_rows(files: dict[str, ExportFile]) -> None:
    for name, cells, reason in BAD_ROWS:
        export = files[name]
        export.rows.append(cells)
        export.bad.append({"line": len(export.rows) + 1, "reason": reason})  # + header line


def manifest(exports: list[ExportFile]) -> dict:
    return {
        "files": {
            export.name: {
                "stream": export.stream,
                "data_lines": len(export.rows),
                "good_rows": export.good,
                "bad_row_count": len(export.bad),
                "bad_rows": export.bad,
                "encoding": export.encoding,
            }
            for export in exports
        },
        "totals": {
            "marketing_spend": sum(e.good for e in exports if e.stream == "marketing_spend"),
            "campaign_performance": sum(
                e.good for e in exports if e.stream == "campaign_performance"
            ),
        },
    }


def apply_journal(files: dict[str, ExportFile], entries: list[dict]) -> set[str]:
    """Apply simulated nights (`elt_sandbox.nights.marketing`) to the files: `append` a
    day's rows to its week's file (created in that week's format when new), `write` a
    separate file (a re-export), `empty` a file down to its header; `feed` entries are the
    JSON feed's (named in the result, applied by `json_feed.write_feed`). Returns the names
    of the files changed."""
    touched: set[str] = set()
    for entry in entries:
        name = entry["file"]
        if entry["op"] == "feed":  # the JSON feed's (json_feed.apply_feed_journal)
            touched.add(name)
            continue
        if entry["op"] == "empty":
            files[name].rows.clear()
            files[name].bad.clear()
        else:
            export = files.get(name) if entry["op"] == "append" else None
            if export is None:
                week_file = new_export_file(entry["stream"], dt.date.fromisoformat(entry["day"]))
                export = files[name] = replace(week_file, name=name, rows=[], bad=[])
            for cells, reason in zip(entry["rows"], entry["bad"], strict=True):
                export.rows.append(cells)
                if reason:
                    export.bad.append({"line": len(export.rows) + 1, "reason": reason})
        touched.add(name)
    return touched


def write_exports(
    directory: Path, entries: list[dict] | None = None, only: set[str] | None = None
) -> dict:
    """Write the seeded files with the nights' `entries` applied (every file, or the
    names in `only`) and `_manifest.json` into `directory`; returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {export.name: export for export in build_exports()}
    apply_journal(files, entries or [])
    exports = [files[name] for name in sorted(files)]
    for export in exports:
        if only is None or export.name in only:
            (directory / export.name).write_bytes(export.render())
    result = manifest(exports)
    # the ad platform's JSON feed beside the CSVs (json_feed.py); deterministic bytes
    result["json_feed"] = write_feed(directory, entries)
    (directory / "_manifest.json").write_text(json.dumps(result, indent=2))
    return result
