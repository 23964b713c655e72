"""Address checks and redaction (pure functions) and the config value built from them."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import ConfigValidationError
from tap_csv_marketing.locations import (
    LocationError,
    check_address,
    file_name,
    is_loopback,
    redact_url,
    scrub,
)
from tap_csv_marketing.settings import ExportSettings


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("https://h/x.csv?token=s3cr3t", "https://h/x.csv?token=***"),
        ("https://h/x.csv?a=1&token=s3cr3t&empty=", "https://h/x.csv?a=***&token=***&empty=***"),
        ("https://h/x.csv?s3cr3t", "https://h/x.csv?***"),
        ("https://user:s3cr3t@h:8443/x.csv", "https://***@h:8443/x.csv"),
        ("https://s3cr3t@h/x.csv", "https://***@h/x.csv"),
        ("https://h/x.csv#access_token=s3cr3t", "https://h/x.csv#***"),
        ("https://h/x.csv", "https://h/x.csv"),
        ("s3://key:s3cr3t@bucket/prefix", "s3://***@bucket/prefix"),
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        ("/data/exports", "/data/exports"),
        ("exports/a=b?c", "exports/a=b?c"),
    ],
)
def test_redact_url(address: str, shown: str) -> None:
    assert redact_url(address) == shown
    assert "s3cr3t" not in redact_url(address)


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("https://h/exports/marketing_spend_2025-W01.csv?token=t", "marketing_spend_2025-W01.csv"),
        ("https://h/exports/marketing%20spend.csv", "marketing spend.csv"),
        ("/data/exports/campaign_performance.csv", "campaign_performance.csv"),
        ("s3://bucket/exports/", "exports"),
    ],
)
def test_file_name_is_the_last_path_segment(address: str, name: str) -> None:
    assert file_name(address) == name


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.5", False),
        ("exports.example.com", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:8080/x.csv",
        "http://localhost/x.csv",
        "https://exports.example.com/x.csv",
        "s3://bucket/exports/",
        "/data/exports/",
        "./exports",
        "exports",
    ],
)
def test_accepted_addresses(address: str) -> None:
    check_address(address, "source", allow_insecure_http=False)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("http://exports.example.com/x.csv?token=s3cr3t", "allow_insecure_http"),
        ("http://10.0.0.5/x.csv", "allow_insecure_http"),
        ("https://h/a/../x.csv", "'..' segment"),
        ("https://h/a/%2e%2e/x.csv", "'..' segment"),
        ("https://h/a//x.csv", "empty path segment"),
        ("s3://bucket//exports", "empty path segment"),
        ("s3:///exports", "no host or bucket"),
        ("/data/../exports", "'..' segment"),
        ("../exports", "'..' segment"),
        ("/data//exports", "empty path segment"),
        ("ftp://h/x.csv", "not supported"),
    ],
)
def test_refused_addresses_name_the_setting_not_the_secret(address: str, message: str) -> None:
    with pytest.raises(LocationError) as caught:
        check_address(address, "source", allow_insecure_http=False)
    assert message in str(caught.value) and "setting 'source'" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_insecure_http_is_allowed_only_when_set() -> None:
    check_address("http://exports.example.com/x.csv", "source", allow_insecure_http=True)


def test_config_errors_are_collected_and_name_each_setting() -> None:
    config = {
        "source": "http://exports.example.com/exports/?token=s3cr3t",
        "urls": [
            "https://h/marketing_spend.csv?token=tok-one",
            "https://h/marketing_spend.csv?token=tok-two",
            "https://h/a/../campaign_performance.csv",
        ],
        "currency": "XYZ",
    }
    with pytest.raises(ConfigValidationError) as caught:
        ExportSettings.from_config(config)
    errors = "\n".join(caught.value.errors)
    assert "setting 'source'" in errors and "allow_insecure_http" in errors
    assert "differ only in credentials or query values" in errors
    assert "'..' segment" in errors and "setting 'currency'" in errors
    assert not any(secret in errors for secret in ("s3cr3t", "tok-one", "tok-two"))


def test_settings_keep_secrets_out_of_repr() -> None:
    settings = ExportSettings.from_config(
        {"source": "https://h/x.csv?token=s3cr3t", "aws_secret_access_key": "k3y"}
    )
    assert "s3cr3t" not in repr(settings) and "k3y" not in repr(settings)
    assert settings.http_files() == ("https://h/x.csv?token=s3cr3t",)


def test_scrub_removes_credentials_from_a_library_message() -> None:
    url = "https://reader:pa55word@h:1/x.csv?token=s3cr3t%2Fx&v=2"
    message = (
        "HTTPSConnectionPool(host='h', port=1): Max retries exceeded with url: "
        "/x.csv?token=s3cr3t%2Fx&v=2 (Caused by NewConnectionError('refused')); "
        f"token s3cr3t/x; {url}"
    )
    scrubbed = scrub(message, url)
    assert "url: /x.csv?token=***&v=*** (Caused by" in scrubbed
    assert "https://***@h:1/x.csv?token=***&v=***" in scrubbed
    assert "token ***" in scrubbed
    assert not any(secret in scrubbed for secret in ("pa55word", "s3cr3t", "reader"))


def test_urls_beside_a_single_file_source_are_a_config_error() -> None:
    config = {"source": "https://h/marketing_spend.csv", "urls": ["https://h/other.csv"]}
    with pytest.raises(ConfigValidationError) as caught:
        ExportSettings.from_config(config)
    assert "setting 'urls': 'source' already names one .csv file" in caught.value.errors[0]
