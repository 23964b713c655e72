"""`python -m elt_sandbox.crm_api --port P --scale S [faults]`: run the CRM simulator."""

from __future__ import annotations

import argparse
from pathlib import Path

from elt_sandbox.crm_api.data import build
from elt_sandbox.crm_api.faults import RETRY_AFTER_STYLES, CrmFaultInjector, CrmFaults
from elt_sandbox.crm_api.server import CrmServer

DEFAULT_TOKEN = "crm-sandbox-token-7f3a9c"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--rate-5xx", type=float, default=0.0)
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0, help="0 = no Retry-After")
    parser.add_argument(
        "--retry-after-style",
        choices=RETRY_AFTER_STYLES,
        default="seconds",
        help="Retry-After as delta-seconds, as an HTTP-date, or mixed (half each)",
    )
    parser.add_argument("--rate-slow", type=float, default=0.0)
    parser.add_argument("--slow-seconds", type=float, default=0.0)
    parser.add_argument("--rate-drop", type=float, default=0.0)
    parser.add_argument("--rate-truncated", type=float, default=0.0)
    parser.add_argument("--rate-malformed", type=float, default=0.0)
    parser.add_argument(
        "--rate-wrong-page", type=float, default=0.0, help="page N answered with page N-1's body"
    )
    parser.add_argument(
        "--rate-replay", type=float, default=0.0, help="the previous response sent again"
    )
    parser.add_argument(
        "--rate-gateway", type=float, default=0.0, help="502 with a proxy's HTML error page"
    )
    parser.add_argument(
        "--no-page-echo", action="store_true", help="pagination does not echo the page number"
    )
    parser.add_argument(
        "--no-total", action="store_true", help="pagination reports no total_records"
    )
    parser.add_argument(
        "--delete-ids", default="", help="comma-separated customer ids deleted from the CRM"
    )
    parser.add_argument(
        "--hide-ids", default="", help="ids counted in total_records but never served"
    )
    parser.add_argument(
        "--sticky-page", action="append", default=[], help="PAGE:FAILS (-1 forever)"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--journal", type=Path, default=None, help="simulated nights to replay and follow"
    )
    args = parser.parse_args()
    sticky = {int(p): int(n) for p, n in (item.split(":") for item in args.sticky_page)}
    faults = CrmFaults(
        rate_5xx=args.rate_5xx,
        rate_429=args.rate_429,
        retry_after=args.retry_after or None,
        retry_after_style=args.retry_after_style,
        rate_slow=args.rate_slow,
        slow_seconds=args.slow_seconds,
        rate_drop=args.rate_drop,
        rate_truncated=args.rate_truncated,
        rate_malformed=args.rate_malformed,
        rate_wrong_page=args.rate_wrong_page,
        rate_replay=args.rate_replay,
        rate_gateway=args.rate_gateway,
        sticky_pages=sticky,
        seed=args.seed,
    )
    data = build(args.scale)
    if args.delete_ids:
        data = data.without({int(i) for i in args.delete_ids.split(",")})
    server = CrmServer(
        args.port,
        data,
        CrmFaultInjector(faults),
        args.token,
        echo_page=not args.no_page_echo,
        report_total=not args.no_total,
        hidden_ids=frozenset(int(i) for i in args.hide_ids.split(",") if i),
        journal_path=args.journal,
    )
    server.journal.sync()  # the nights simulated before this start
    print(f"crm sandbox on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
