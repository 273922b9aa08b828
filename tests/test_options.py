"""Command-line numbers are checked when the arguments are parsed; the connection's secrets reach the log filter."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import pytest

from reconciler.cli.common import configure_logging, runtime_from_args
from reconciler.cli.demo import MIN_DEMO_USERS
from reconciler.cli.main import build_parser
from reconciler.sandbox.org import WELL_KNOWN


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--requests-per-minute", "-5"], "'-5' is out of range: expected a number from 1 to 1000000"),
        (["plan", "--requests-per-minute", "0"], "'0' is out of range: expected a number from 1 to 1000000"),
        (["plan", "--requests-per-minute", "nan"], "'nan' is out of range"),
        (["plan", "--requests-per-minute", "inf"], "'inf' is out of range"),
        (["apply", "--concurrency", "0"], "'0' is out of range: expected a whole number from 1 to 64"),
        (["apply", "--concurrency", "-1"], "'-1' is out of range: expected a whole number from 1 to 64"),
        (["apply", "--concurrency", "1000"], "'1000' is out of range: expected a whole number from 1 to 64"),
        (["apply", "--concurrency", "2.5"], "'2.5' is out of range: expected a whole number from 1 to 64"),
        (["run", "--concurrency", "0"], "expected a whole number from 1 to 64"),
        (["run", "--every", "0s"], "'0s' is out of range: expected a duration above 0 and at most 7 days"),
        (["run", "--every", "30d"], "'30d' is out of range"),
        (["run", "--every", "8000h"], "'8000h' is out of range"),
        (["run", "--jitter=-1s"], "'-1s' is out of range: expected a duration from 0 to 7 days"),
        (["run", "--metrics-port", "70000"], "'70000' is out of range: expected a whole number from 0 to 65535"),
        (["run", "--metrics-port=-1"], "expected a whole number from 0 to 65535"),
        (["sandbox", "--port", "65536"], "expected a whole number from 0 to 65535"),
        (["sandbox", "--users", "0"], "'0' is out of range: expected a whole number from 1 to 1000000"),
        (["sandbox", "--latency=-0.5"], "expected a number from 0 to 60"),
        (["sandbox", "--search-lag=-1"], "expected a number from 0 to 3600"),
        (["demo", "--users", "3"], f"expected a whole number from {MIN_DEMO_USERS} to 100000"),
        (["propose", "--requests-per-minute", "0"], "'0' is out of range: expected a number from 1 to 1000000"),
        (["propose", "--dormant", "99999999999d"], "'99999999999d' is too old an age"),
    ],
)
def test_out_of_range_numbers_are_usage_errors_naming_the_range(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        (["plan", "--requests-per-minute", "1"], "requests_per_minute", 1.0),
        (["plan", "--requests-per-minute", "600000"], "requests_per_minute", 600000.0),
        (["apply", "--concurrency", "1"], "concurrency", 1),
        (["apply", "--concurrency", "64"], "concurrency", 64),
    ],
)
def test_numbers_in_range_reach_the_settings(argv: list[str], field: str, value: float) -> None:
    args = build_parser().parse_args(argv)
    env = {"GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "x" * 12}
    assert getattr(runtime_from_args(args, env).settings, field) == value


def test_durations_in_range_are_parsed_to_seconds() -> None:
    args = build_parser().parse_args(["run", "--every", "15m", "--jitter", "0"])
    assert (args.every, args.jitter) == (900.0, 0.0)


def test_the_demo_needs_every_well_known_user() -> None:
    assert len(WELL_KNOWN) == MIN_DEMO_USERS


def test_the_connections_secret_is_masked_in_logs_however_it_arrived(caplog: Any) -> None:
    # The logging filter is set up before any connection exists; the connection hands it its secrets.
    configure_logging(0, env={})
    secret = "a-secret-that-came-from-elsewhere"
    args = argparse.Namespace(desired_dir="desired_state")
    runtime_from_args(args, {"GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": secret})
    logger = logging.getLogger("reconciler")
    handler = logger.handlers[0]
    record = logger.makeRecord("reconciler", logging.ERROR, __file__, 1, "sent %s", (secret,), None)
    assert handler.filter(record)
    assert secret not in record.getMessage() and "***" in record.getMessage()
