"""`python -m elt_sandbox.stripe_api --port P --scale S [faults]`: run the Stripe stand-in."""

from __future__ import annotations

import argparse
from pathlib import Path

from elt_sandbox.journal import JournalFollower
from elt_sandbox.stripe_api.data import StripeData
from elt_sandbox.stripe_api.faults import FaultConfig, FaultInjector
from elt_sandbox.stripe_api.server import StripeServer

DEFAULT_API_KEY = "sk_test_sandbox_4eC39HqLyjWDarjtT1zdp7dc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument(
        "--no-should-retry", action="store_true", help="429s without Stripe-Should-Retry: true"
    )
    parser.add_argument(
        "--retry-after", type=float, default=None, help="seconds, sent with 429s and 503s"
    )
    parser.add_argument(
        "--retry-after-date", action="store_true", help="send Retry-After as an HTTP-date"
    )
    parser.add_argument("--rate-5xx", type=float, default=0.0)
    parser.add_argument(
        "--rate-gateway",
        type=float,
        default=0.0,
        help="502/503/500/429 with a gateway's body (HTML or {'error': 'text'})",
    )
    parser.add_argument(
        "--rate-replay",
        type=float,
        default=0.0,
        help="a page with a cursor answered with the page served before for that cursor",
    )
    parser.add_argument("--fail-resource", default=None, help="e.g. refunds: fails for good")
    parser.add_argument("--fail-after", type=int, default=0, help="...after this many requests")
    parser.add_argument("--slow-rate", type=float, default=0.0)
    parser.add_argument("--slow-seconds", type=float, default=0.0)
    parser.add_argument("--max-rps", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--journal", type=Path, default=None, help="simulated nights to replay and follow"
    )
    args = parser.parse_args()
    faults = FaultConfig(
        rate_429=args.rate_429,
        should_retry_header=not args.no_should_retry,
        retry_after=args.retry_after,
        retry_after_date=args.retry_after_date,
        rate_5xx=args.rate_5xx,
        rate_gateway=args.rate_gateway,
        rate_replay=args.rate_replay,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        max_requests_per_second=args.max_rps,
        fail_resource=args.fail_resource,
        fail_after=args.fail_after,
        seed=args.seed,
    )
    data = StripeData(args.scale)
    journal = JournalFollower(args.journal, data.apply_journal)
    journal.sync()  # the nights simulated before this start
    server = StripeServer(args.port, data, FaultInjector(faults), args.api_key, journal)
    print(f"stripe sandbox on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
