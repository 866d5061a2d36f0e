"""The Home Assistant settings: off by default, a key or a written opt-out, checked words."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from talkbox.config import check_report, load_settings
from talkbox.errors import ConfigError, ExitCode

KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaSyCheckKey-abcdefghijklmnopqrstuvwx")


def report_of(tmp_path: Path, text: str) -> str:
    env = tmp_path / "talkbox.env"
    env.write_text(text, encoding="utf-8")
    report = check_report(env)
    return "\n".join([str(report.exit_code), *report.lines, *report.problems, *report.warnings])


def test_home_assistant_is_off_by_default_and_listens_nowhere() -> None:
    settings = load_settings()
    assert settings.home_assistant == "off"
    assert settings.home_assistant_url is None


def test_the_esphome_api_needs_a_key_or_plaintext_in_writing(tmp_path: Path) -> None:
    refused = report_of(tmp_path, "TALKBOX_HOME_ASSISTANT=esphome\n")
    assert refused.startswith(str(ExitCode.CONFIG))
    assert "TALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY is not set" in refused
    keyed = report_of(
        tmp_path, f"TALKBOX_HOME_ASSISTANT=esphome\nTALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY={KEY}\n"
    )
    assert keyed.startswith(str(ExitCode.OK))
    assert KEY not in keyed  # a secret: masked
    plain = report_of(
        tmp_path, "TALKBOX_HOME_ASSISTANT=esphome\nTALKBOX_HOME_ASSISTANT_PLAINTEXT=true\n"
    )
    assert plain.startswith(str(ExitCode.OK))


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("TALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY", "c2hvcnQ=", "decodes to 5 bytes"),
        ("TALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY", "not base64!", "is not base64"),
        ("TALKBOX_HOME_ASSISTANT_ADDRESSES", "0.0.0.0,box.local", "box.local is not an IP address"),
        ("TALKBOX_HOME_ASSISTANT_NAME", "Kitchen Box", "is not a device name"),
        ("TALKBOX_HOME_ASSISTANT_URL", "homeassistant.local:8123", "is not an http:// or https://"),
        ("TALKBOX_HOME_ASSISTANT", "mqtt", "off or esphome"),
    ],
)
def test_bad_values_are_named_with_what_is_allowed(variable: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, **{variable.removeprefix("TALKBOX_").lower(): value})
    assert words in str(caught.value.problems)


def test_the_assist_tool_needs_a_token(tmp_path: Path) -> None:
    said = report_of(tmp_path, "TALKBOX_HOME_ASSISTANT_URL=http://ha.local:8123\n")
    assert "no token is" in said
    with_token = report_of(
        tmp_path,
        "TALKBOX_HOME_ASSISTANT_URL=http://ha.local:8123/\nTALKBOX_HOME_ASSISTANT_TOKEN=abc\n",
    )
    assert with_token.startswith(str(ExitCode.OK))
    assert load_settings(None, home_assistant_url="http://ha.local:8123/").home_assistant_url == (
        "http://ha.local:8123"
    )


def test_addresses_are_a_list_of_ip_addresses() -> None:
    settings = load_settings(None, home_assistant_addresses="127.0.0.1, ::1,127.0.0.1")
    assert settings.home_assistant_addresses == ("127.0.0.1", "::1")


def test_plaintext_reachable_from_the_network_is_a_warning_on_loopback_none(tmp_path: Path) -> None:
    lan = report_of(
        tmp_path, "TALKBOX_HOME_ASSISTANT=esphome\nTALKBOX_HOME_ASSISTANT_PLAINTEXT=true\n"
    )
    assert "served unencrypted on 0.0.0.0" in lan
    loopback = report_of(
        tmp_path,
        "TALKBOX_HOME_ASSISTANT=esphome\nTALKBOX_HOME_ASSISTANT_PLAINTEXT=true\n"
        "TALKBOX_HOME_ASSISTANT_ADDRESSES=127.0.0.1\n",
    )
    assert "served unencrypted" not in loopback
