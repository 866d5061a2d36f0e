"""Test-wide environment: no proxy for loopback, no inherited CA bundle or API keys."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # This machine exports SSL_CERT_FILE; the SDK builds its TLS context from it, so a test
    # that forgets to pass the emulator's CA must fail rather than silently use the system one.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    # websockets honours HTTPS_PROXY; loopback must never go through a proxy.
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,::1")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1,::1")
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_GENAI_API_VERSION",
        "CREDENTIALS_DIRECTORY",
        "STATE_DIRECTORY",
        "RUNTIME_DIRECTORY",
        "NOTIFY_SOCKET",
        "JOURNAL_STREAM",
    ):
        monkeypatch.delenv(name, raising=False)
    # No TALKBOX_* setting of the developer's shell may leak into a test.
    for name in list(os.environ):
        if name.startswith("TALKBOX_"):
            monkeypatch.delenv(name, raising=False)
