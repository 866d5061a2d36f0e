"""Settings → LiveConnectConfig and the SDK client: what the setup message will carry."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from google.genai import types

from talkbox.config import Settings, load_settings
from talkbox.errors import ConfigError
from talkbox.live.session_config import (
    build_client,
    build_connect_config,
    ssl_context,
    websocket_args,
)


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_key": "emu-test-key", "state_dir": tmp_path / "state"}
    values.update(overrides)
    return load_settings(None, **values)


def test_local_turn_detection_disables_the_servers_activity_detection(tmp_path: Path) -> None:
    config = build_connect_config(settings(tmp_path), handle=None)
    assert config.response_modalities == [types.Modality.AUDIO]
    assert config.realtime_input_config is not None
    detection = config.realtime_input_config.automatic_activity_detection
    assert detection is not None
    assert detection.disabled is True


def test_server_turn_detection_carries_the_vad_tuning(tmp_path: Path) -> None:
    config = build_connect_config(
        settings(
            tmp_path,
            turn_detection="server",
            vad_start_sensitivity="low",
            vad_end_sensitivity="high",
            vad_prefix_padding_ms=40,
            vad_silence_ms=700,
        ),
        handle=None,
    )
    assert config.realtime_input_config is not None
    detection = config.realtime_input_config.automatic_activity_detection
    assert detection is not None
    assert detection.disabled is False
    assert detection.start_of_speech_sensitivity == types.StartSensitivity.START_SENSITIVITY_LOW
    assert detection.end_of_speech_sensitivity == types.EndSensitivity.END_SENSITIVITY_HIGH
    assert detection.prefix_padding_ms == 40
    assert detection.silence_duration_ms == 700


def test_resumption_is_requested_even_without_a_handle(tmp_path: Path) -> None:
    fresh = build_connect_config(settings(tmp_path), handle=None)
    assert fresh.session_resumption == types.SessionResumptionConfig(handle=None)
    resumed = build_connect_config(settings(tmp_path), handle="Cgxra2o3bHc1bWVmaG8")
    assert resumed.session_resumption is not None
    assert resumed.session_resumption.handle == "Cgxra2o3bHc1bWVmaG8"
    off = build_connect_config(settings(tmp_path, resume=False), handle=None)
    assert off.session_resumption is None


def test_compression_uses_the_configured_sliding_window(tmp_path: Path) -> None:
    config = build_connect_config(
        settings(tmp_path, compression_trigger_tokens=20_000, compression_target_tokens=10_000),
        handle=None,
    )
    assert config.context_window_compression == types.ContextWindowCompressionConfig(
        trigger_tokens=20_000, sliding_window=types.SlidingWindow(target_tokens=10_000)
    )
    assert (
        build_connect_config(
            settings(tmp_path, compression=False), handle=None
        ).context_window_compression
        is None
    )


def test_voice_language_instruction_and_transcription(tmp_path: Path) -> None:
    config = build_connect_config(
        settings(
            tmp_path,
            voice="Kore",
            language="de-DE",
            system_instruction="Be brief.",
            transcribe_input=False,
        ),
        handle=None,
    )
    assert config.speech_config is not None
    assert config.speech_config.language_code == "de-DE"
    assert config.speech_config.voice_config is not None
    assert config.speech_config.voice_config.prebuilt_voice_config is not None
    assert config.speech_config.voice_config.prebuilt_voice_config.voice_name == "Kore"
    assert config.system_instruction == types.Content(
        role="user", parts=[types.Part(text="Be brief.")]
    )
    assert config.input_audio_transcription is None
    assert config.output_audio_transcription == types.AudioTranscriptionConfig()


def test_tools_put_search_first_and_functions_together(tmp_path: Path) -> None:
    functions = [types.FunctionDeclaration(name="get_time", description="The time.")]
    config = build_connect_config(
        settings(tmp_path, google_search=True), handle=None, functions=functions
    )
    assert config.tools == [
        types.Tool(google_search=types.GoogleSearch()),
        types.Tool(function_declarations=functions),
    ]
    assert build_connect_config(settings(tmp_path), handle=None).tools is None


def test_the_2_5_previews_get_affective_dialog_and_proactivity_on_the_v1alpha_they_set(
    tmp_path: Path,
) -> None:
    s = settings(
        tmp_path,
        model="gemini-2.5-flash-native-audio-preview-12-2025",
        api_version="v1alpha",
        affective_dialog=True,
        proactive_audio=True,
    )
    config = build_connect_config(s, handle=None)
    assert config.enable_affective_dialog is True
    assert config.proactivity == types.ProactivityConfig(proactive_audio=True)
    assert config.thinking_config is None
    client = build_client(s)
    assert client._api_client._http_options.api_version == "v1alpha"


def test_gemini_3_8_live_gets_no_thinking_affective_dialog_or_proactivity_on_v1beta(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path)
    config = build_connect_config(s, handle=None)
    assert (config.thinking_config, config.enable_affective_dialog, config.proactivity) == (
        None,
        None,
        None,
    )
    assert build_client(s)._api_client._http_options.api_version == "v1beta"


@pytest.mark.parametrize(("level", "sent"), [(None, "LOW"), ("medium", "MEDIUM"), ("high", "HIGH")])
def test_extended_thinking_always_gets_a_thinking_level(
    tmp_path: Path, level: str | None, sent: str
) -> None:
    s = settings(tmp_path, model="gemini-3.8-live-extended-thinking", thinking_level=level)
    config = build_connect_config(s, handle=None)
    assert config.thinking_config == types.ThinkingConfig(thinking_level=types.ThinkingLevel(sent))


def test_the_setup_without_a_handle_carries_no_null_handle(tmp_path: Path) -> None:
    config = build_connect_config(settings(tmp_path), handle=None)
    setup = wire_setup(settings(tmp_path), config)
    assert setup["sessionResumption"] == {}
    resumed = wire_setup(settings(tmp_path), build_connect_config(settings(tmp_path), handle="h1"))
    assert resumed["sessionResumption"] == {"handle": "h1"}


def wire_setup(s: Settings, config: types.LiveConnectConfig) -> dict[str, Any]:
    """The setup message the SDK would send, built by the SDK's own converter."""
    from google.genai import _common, _live_converters

    client = build_client(s)
    request = _common.convert_to_dict(
        _live_converters._LiveConnectParameters_to_mldev(
            api_client=client._api_client,
            from_object=types.LiveConnectParameters(
                model=f"models/{s.model}", config=config
            ).model_dump(exclude_none=True),
        )
    )
    setup: dict[str, Any] = request["setup"]
    return setup


def test_the_client_trusts_only_the_configured_ca_and_keeps_pings_lenient(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    s = settings(tmp_path, base_url="https://127.0.0.1:9/", ca_file=ca_file)
    args = websocket_args(s)
    context = args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1
    assert args["ping_timeout"] > 20
    client = build_client(s)
    options = client._api_client._http_options
    assert options.base_url == "https://127.0.0.1:9/"
    assert options.api_version == "v1beta"
    used = client._api_client._websocket_ssl_ctx["ssl"]
    assert used.get_ca_certs() == context.get_ca_certs()
    assert client._api_client._websocket_ssl_ctx["ping_timeout"] == args["ping_timeout"]


def test_without_a_ca_file_the_system_trust_store_is_used() -> None:
    assert len(ssl_context(None).get_ca_certs()) >= 0
    assert ssl_context(None).verify_mode == ssl.CERT_REQUIRED


def test_a_missing_key_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_client(load_settings(None, state_dir=tmp_path / "state"))


def test_vertex_uses_project_and_location_and_its_own_api_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Application default credentials as `gcloud auth application-default login` writes them;
    # nothing is fetched until a connection needs a token.
    adc = tmp_path / "adc.json"
    adc.write_text(
        '{"type": "authorized_user", "client_id": "id", "client_secret": "s", '
        '"refresh_token": "r"}',
        encoding="utf-8",
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    s = load_settings(
        None,
        backend="vertex",
        vertex_project="my-project",
        vertex_location="europe-west4",
        state_dir=tmp_path / "state",
    )
    client = build_client(s)
    assert client.vertexai
    assert client._api_client.project == "my-project"
    assert client._api_client.location == "europe-west4"
    assert client._api_client._http_options.api_version == "v1beta1"


@pytest.mark.parametrize(
    ("base_url", "bypass"),
    [
        ("https://127.0.0.1:8443", True),
        ("https://localhost:8443/", True),
        ("https://[::1]:8443", True),
        ("https://127.9.9.9", True),
        ("https://generativelanguage.googleapis.com/", False),
        ("https://10.0.0.5:443", False),
        (None, False),
    ],
)
def test_only_a_loopback_base_url_bypasses_the_environments_proxy(
    tmp_path: Path, base_url: str | None, bypass: bool
) -> None:
    args = websocket_args(settings(tmp_path, base_url=base_url))
    # websockets treats a missing "proxy" as "use HTTPS_PROXY" and None as "no proxy".
    assert ("proxy" in args and args["proxy"] is None) is bypass
