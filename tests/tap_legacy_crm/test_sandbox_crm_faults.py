"""The CRM simulator's proxy-shaped faults do what they say (so the tap tests mean something)."""

from __future__ import annotations

import email.utils
import time

import requests
from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def get(base: str, page: int, per_page: int = 50) -> requests.Response:
    return requests.get(
        f"{base}/api/v1/customers",
        params={"page": page, "per_page": per_page},
        headers=AUTH,
        timeout=5,
    )


def test_wrong_page_answers_with_the_previous_pages_body(crm_server) -> None:
    base = crm_server("--rate-wrong-page", "1")
    asked_3, asked_1 = get(base, 3).json(), get(base, 1).json()
    assert asked_3["pagination"]["page"] == 2 and asked_1["pagination"]["page"] == 2
    assert asked_3["data"] == asked_1["data"]


def test_replay_sends_the_previous_response_byte_for_byte(crm_server) -> None:
    base = crm_server("--rate-replay", "0.5", "--seed", "3")
    bodies = [(page, get(base, page).content) for page in range(1, 30)]
    replays = [
        (p, b) for (p, b), (_, before) in zip(bodies[1:], bodies[:-1], strict=True) if b == before
    ]
    assert replays, "no response was replayed at rate 0.5"
    assert all(f'"page": {p}'.encode() not in b for p, b in replays)


def test_no_page_echo_and_a_distinct_total(crm_server, crm_expected_ids) -> None:
    pagination = get(crm_server("--no-page-echo"), 1).json()["pagination"]
    assert "page" not in pagination
    assert pagination["total_records"] == len(crm_expected_ids)


def test_gateway_errors_are_html(crm_server) -> None:
    response = get(crm_server("--rate-gateway", "1"), 1)
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert b"502 Bad Gateway" in response.content


def test_retry_after_as_an_http_date(crm_server) -> None:
    base = crm_server("--rate-429", "1", "--retry-after", "2", "--retry-after-style", "date")
    before = time.time()
    response = get(base, 1)
    assert response.status_code == 429
    moment = email.utils.parsedate_to_datetime(response.headers["Retry-After"])
    assert before + 2 <= moment.timestamp() <= time.time() + 3  # whole seconds, rounded up


def test_the_same_seed_gives_the_same_faults(crm_server) -> None:
    flags = ("--rate-5xx", "0.3", "--rate-wrong-page", "0.2", "--seed", "42")
    runs = [
        [get(base, p).status_code for p in range(1, 20)]
        for base in map(lambda _: crm_server(*flags), range(2))
    ]
    assert runs[0] == runs[1] and 500 in runs[0]
