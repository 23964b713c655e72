"""`python -m elt_sandbox.stripe_api --port P --scale S [faults]`: run the Stripe stand-in."""

from __future__ import annotations

import argparse

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
    parser.add_argument("--retry-after", type=float, default=None)
    parser.add_argument("--rate-5xx", type=float, default=0.0)
    parser.add_argument("--slow-rate", type=float, default=0.0)
    parser.add_argument("--slow-seconds", type=float, default=0.0)
    parser.add_argument("--max-rps", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    faults = FaultConfig(
        rate_429=args.rate_429,
        should_retry_header=not args.no_should_retry,
        retry_after=args.retry_after,
        rate_5xx=args.rate_5xx,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        max_requests_per_second=args.max_rps,
        seed=args.seed,
    )
    server = StripeServer(args.port, StripeData(args.scale), FaultInjector(faults), args.api_key)
    print(f"stripe sandbox on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
