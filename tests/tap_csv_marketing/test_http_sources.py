"""The real tap reading sandbox exports over real HTTP from a local server: credentials in
URLs are sent but never logged, stored in records or bookmarked; unsafe addresses and
empty sources fail before the first record, naming the setting."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import pytest

from tests.tap_csv_marketing.conftest import ExportServer, run_csv_tap

SECRET = "tok-9f8e7d6c5b4a"
SPEND_FILE = "marketing_spend_2025-W03.csv"  # holds one documented bad row
PERFORMANCE_FILE = "campaign_performance_2025-W05.csv"  # holds one documented bad row


def manifest(csv_env: dict[str, str]) -> dict:
    return json.loads((Path(csv_env["SANDBOX_CSV_DIR"]) / "_manifest.json").read_text())["files"]


def serve(server: ExportServer, csv_env: dict[str, str], *names: str) -> None:
    for name in names:
        server.files[f"/exports/{name}"] = (Path(csv_env["SANDBOX_CSV_DIR"]) / name).read_bytes()


def records_in(stdout: str) -> int:
    return sum(json.loads(line)["type"] == "RECORD" for line in stdout.splitlines())


def test_a_token_url_is_read_and_redacted_everywhere(
    csv_env, export_server, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("LOGLEVEL", "DEBUG")  # urllib3 logs request lines at DEBUG
    serve(export_server, csv_env, SPEND_FILE)
    url = f"{export_server.base_url}/exports/{SPEND_FILE}?token={SECRET}"
    shown = f"{export_server.base_url}/exports/{SPEND_FILE}?token=***"
    streams, states, result = run_csv_tap({"source": url}, tmp_path)
    expected = manifest(csv_env)[SPEND_FILE]
    assert len(streams["marketing_spend"]) == expected["good_rows"] > 0
    assert {r["_sdc_source_file"] for r in streams["marketing_spend"]} == {shown}
    assert [(r["line"], r["reason"]) for r in streams["marketing_spend__quarantine"]] == [
        (bad["line"], bad["reason"]) for bad in expected["bad_rows"]
    ]
    assert {r["source_file"] for r in streams["marketing_spend__quarantine"]} == {shown}
    assert list(states[-1]["bookmarks"]["marketing_spend"]["files"]) == [shown]
    assert ("GET", f"/exports/{SPEND_FILE}?token={SECRET}") in export_server.requests
    assert f"{shown}: {expected['good_rows']} good rows" in result.stderr
    assert "holds no file matching 'campaign_performance*.csv'" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_user_and_password_in_the_url_are_sent_and_redacted(
    csv_env, export_server, tmp_path
) -> None:
    serve(export_server, csv_env, SPEND_FILE)
    credentials = base64.b64encode(f"reader:{SECRET}".encode()).decode()
    export_server.authorization = f"Basic {credentials}"
    host = export_server.base_url.removeprefix("http://")
    url = f"http://reader:{SECRET}@{host}/exports/{SPEND_FILE}"
    streams, states, result = run_csv_tap({"source": url}, tmp_path)
    shown = f"http://***@{host}/exports/{SPEND_FILE}"
    assert len(streams["marketing_spend"]) == manifest(csv_env)[SPEND_FILE]["good_rows"]
    assert {r["_sdc_source_file"] for r in streams["marketing_spend"]} == {shown}
    assert list(states[-1]["bookmarks"]["marketing_spend"]["files"]) == [shown]
    assert SECRET not in result.stdout + result.stderr


def test_urls_are_matched_by_their_path_and_feed_both_streams(
    csv_env, export_server, tmp_path
) -> None:
    serve(export_server, csv_env, SPEND_FILE, PERFORMANCE_FILE)
    base = f"{export_server.base_url}/exports"
    urls = [f"{base}/{name}?token={SECRET}&v=2" for name in (SPEND_FILE, PERFORMANCE_FILE)]
    streams, _, result = run_csv_tap({"source": f"{base}/", "urls": urls}, tmp_path)
    files = manifest(csv_env)
    for stream, name in (
        ("marketing_spend", SPEND_FILE),
        ("campaign_performance", PERFORMANCE_FILE),
    ):
        shown = f"{base}/{name}?token=***&v=***"
        assert [r["_sdc_source_file"] for r in streams[stream]] == [shown] * files[name][
            "good_rows"
        ]
        quarantined = [
            (r["source_file"], r["line"], r["reason"]) for r in streams[f"{stream}__quarantine"]
        ]
        assert quarantined == [(shown, b["line"], b["reason"]) for b in files[name]["bad_rows"]]
    assert SECRET not in result.stdout + result.stderr  # fmt: skip


def test_an_http_error_names_the_redacted_url(export_server, tmp_path) -> None:
    url = f"{export_server.base_url}/exports/{SPEND_FILE}?token={SECRET}"
    _, _, result = run_csv_tap({"source": url}, tmp_path, check=False)
    assert result.returncode != 0
    assert f"/exports/{SPEND_FILE}?token=***: HTTP 404, expected 200" in result.stderr
    assert SECRET not in result.stderr


@pytest.fixture()
def via_proxy(export_server, monkeypatch) -> ExportServer:
    """Route plain-http requests for any host through the local server (a real proxy hop),
    so a request to a non-loopback host would be seen by the test."""
    monkeypatch.setenv("HTTP_PROXY", export_server.base_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return export_server


def test_plain_http_to_another_host_is_refused_before_any_request(
    csv_env, via_proxy, tmp_path
) -> None:
    serve(via_proxy, csv_env, SPEND_FILE)
    url = f"http://exports.example.com/exports/{SPEND_FILE}?token={SECRET}"
    _, _, refused = run_csv_tap({"source": url}, tmp_path, check=False)
    assert refused.returncode != 0
    assert "allow_insecure_http" in refused.stderr and "setting 'source'" in refused.stderr
    assert via_proxy.requests == [] and records_in(refused.stdout) == 0
    assert SECRET not in refused.stderr
    streams, _, _ = run_csv_tap({"source": url, "allow_insecure_http": True}, tmp_path)
    assert len(streams["marketing_spend"]) == manifest(csv_env)[SPEND_FILE]["good_rows"]
    assert ("GET", url) in via_proxy.requests  # the same setup does reach the host when allowed


def test_a_redirect_to_plain_http_elsewhere_is_refused(export_server, tmp_path) -> None:
    export_server.redirects[f"/exports/{SPEND_FILE}"] = f"http://exports.example.com/{SPEND_FILE}"
    url = f"{export_server.base_url}/exports/{SPEND_FILE}?token={SECRET}"
    _, _, result = run_csv_tap({"source": url}, tmp_path, check=False)
    assert result.returncode != 0
    assert f"http://exports.example.com/{SPEND_FILE} is plain http" in result.stderr
    assert "allow_insecure_http" in result.stderr
    assert export_server.requests == [("HEAD", f"/exports/{SPEND_FILE}?token={SECRET}")]


@pytest.mark.parametrize(
    ("source", "setting"),
    [
        ("{dir}/../exports", "source"),
        ("{dir}//exports", "source"),
        ("s3://lake//exports/marketing", "source"),
        ("{http}/exports/../marketing_spend.csv", "source"),
        ("{http}/exports/%2E%2E/marketing_spend.csv", "source"),
    ],
)
def test_dot_dot_and_empty_segments_are_refused(
    source: str, setting: str, export_server, tmp_path
) -> None:
    config = {"source": source.format(dir=tmp_path, http=export_server.base_url)}
    _, _, result = run_csv_tap(config, tmp_path, check=False)
    assert result.returncode != 0
    assert f"setting '{setting}'" in result.stderr
    assert "'..' segment" in result.stderr or "empty path segment" in result.stderr
    assert export_server.requests == [] and records_in(result.stdout) == 0


def test_a_source_without_any_matching_file_fails_naming_the_settings(
    export_server, tmp_path
) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "spend_2025.csv").write_text("date\n2025-01-01\n")
    _, _, local = run_csv_tap({"source": str(tmp_path / "exports")}, tmp_path, check=False)
    url = f"{export_server.base_url}/exports/report.csv?token={SECRET}"
    _, _, http = run_csv_tap({"source": url}, tmp_path, check=False)
    for result in (local, http):
        assert result.returncode != 0
        assert "settings 'source' and 'file_patterns'" in result.stderr
        patterns = "['ad_events*.*json*', 'budget_plan*.json*', 'campaign_performance*.csv', "
        assert f"holds no file matching {patterns}'marketing_spend*.csv']" in result.stderr
        assert records_in(result.stdout) == 0
    assert SECRET not in http.stderr


def test_a_bookmark_written_with_a_token_is_rewritten_redacted(
    csv_env, export_server, tmp_path
) -> None:
    serve(export_server, csv_env, SPEND_FILE)
    url = f"{export_server.base_url}/exports/{SPEND_FILE}?token={SECRET}"
    old = {"version": "old", "size": None, "sha256": "0" * 64}
    state = {"bookmarks": {"marketing_spend": {"files": {url: old}}}}
    _, states, result = run_csv_tap({"source": url}, tmp_path, state=state)
    files = states[-1]["bookmarks"]["marketing_spend"]["files"]
    assert list(files) == [f"{export_server.base_url}/exports/{SPEND_FILE}?token=***"]
    assert SECRET not in result.stdout


def test_a_refused_connection_is_reported_without_the_token(tmp_path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/exports/{SPEND_FILE}?token={SECRET}"
    _, _, result = run_csv_tap({"source": url}, tmp_path, check=False)
    assert result.returncode != 0
    assert f"HEAD http://127.0.0.1:{port}/exports/{SPEND_FILE}?token=***: ConnectionError" in (
        result.stderr
    )
    assert f"url: /exports/{SPEND_FILE}?token=***" in result.stderr
    assert SECRET not in result.stderr
