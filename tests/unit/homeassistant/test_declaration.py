"""control_home as the model sees it: declared BLOCKING, one string, only when configured."""

from __future__ import annotations

from google.genai import types

from talkbox.appliance.tools import declared_registry
from talkbox.config import load_settings


def test_control_home_is_declared_only_with_a_url_and_a_token() -> None:
    assert "control_home" not in declared_registry(load_settings(None)).names
    settings = load_settings(
        None, home_assistant_url="http://ha.local:8123", home_assistant_token="token"
    )
    registry = declared_registry(settings)
    assert "control_home" in registry.names
    (declaration,) = [d for d in registry.declarations() if d.name == "control_home"]
    assert declaration.behavior is types.Behavior.BLOCKING
    assert declaration.parameters is not None
    assert list(declaration.parameters.properties or {}) == ["request"]
    assert "home" in (declaration.description or "").lower()
    assert "Not for general knowledge" in (declaration.description or "")
