"""The Live area's connection half: the key, the backend, the endpoint and the model."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationInfo, field_validator

from talkbox.config.credentials import (
    API_KEY_VARIABLES,
    CREDENTIAL_VARIABLE,
    check_key_shape,
    credential_path,
    read_secret,
)
from talkbox.config.fields import (
    GIVEN,
    Area,
    LocalPath,
    LowerCase,
    Problem,
    check_local_path,
    setting,
    shown_path,
)
from talkbox.config.files import problem_of, read_text
from talkbox.config.models import DEFAULT_MODEL, ModelRow, Stage, model_row

_API_VERSION = re.compile(r"^v[0-9]+((alpha|beta)[0-9]*)?$")
_MODEL = re.compile(r"^(models/)?[a-z0-9][a-z0-9._-]{0,127}$")


def row_of(info: ValidationInfo) -> ModelRow | None:
    """The model row of the settings validated so far (None: the model itself is wrong)."""
    model = info.data.get("model")
    backend = info.data.get("backend")
    if model is None or backend is None:
        return None
    return model_row(model, backend=backend)


class ConnectionFields(Area):
    """How talkbox reaches Gemini; `LiveFields` builds on it, so these fields validate first."""

    # A plain Path: its own validator words every problem without showing the value, which
    # may be the key itself pasted into the wrong variable.
    api_key_file: Path | None = setting(
        doc="Absolute path of a file holding the Gemini API key (one line); used when "
        "GEMINI_API_KEY is not set.",
        allowed="an absolute path to a readable, non-empty file",
    )
    api_key: SecretStr | None = setting(
        doc=(
            "Gemini API key (GOOGLE_API_KEY works too): plain ASCII, no spaces or typographic "
            "quotes. Better: TALKBOX_API_KEY_FILE or the systemd credential gemini_api_key "
            "(the unit loads /etc/credstore/gemini_api_key, mode 0600)."
        ),
        allowed="the key: visible ASCII characters, at most 1024",
        secret=True,
        env=API_KEY_VARIABLES,
        # Vertex authenticates with application default credentials.
        applies_when={"backend": "gemini"},
    )
    backend: Annotated[Literal["gemini", "vertex"], LowerCase] = setting(
        "gemini",
        doc="gemini: Gemini Developer API with an API key; vertex: Vertex AI with application "
        "default credentials (`talkbox check` looks them up).",
        allowed="gemini or vertex",
    )
    vertex_project: str | None = setting(
        doc="Google Cloud project (backend vertex only; required there).",
        allowed="a Google Cloud project id",
        applies_when={"backend": "vertex"},
    )
    vertex_location: str = setting(
        "us-central1",
        doc="Google Cloud region (backend vertex only).",
        allowed="a Google Cloud region such as us-central1",
        applies_when={"backend": "vertex"},
    )
    model: str = setting(
        DEFAULT_MODEL,
        doc="Live model name (gemini-3.8-live-extended-thinking reasons before it answers; "
        "`talkbox check` says what the model accepts).",
        allowed="a Live model name such as " + DEFAULT_MODEL,
    )
    api_version: str = setting(
        "v1beta",
        doc="Gemini API version, pinned to v1beta, the one that serves Live; v1alpha only for "
        "the 2.5 previews' affective dialog and proactive audio, never chosen for you "
        "(backend vertex keeps the SDK's own version).",
        allowed="v1beta, or v1alpha for the 2.5 previews",
        applies_when={"backend": "gemini"},
    )
    base_url: str | None = setting(
        doc="Service URL override: the emulator or a proxy. Empty: the real service.",
        allowed="an http:// or https:// URL",
    )
    ca_file: LocalPath | None = setting(
        doc="CA bundle (PEM, absolute path) to trust for TALKBOX_BASE_URL, e.g. the emulator's "
        "test CA.",
        allowed="an absolute path to a readable PEM file holding a certificate",
        applies_when={"base_url": GIVEN},
    )

    # --- validators (field order matters: info.data holds the fields above) ---

    @field_validator("api_key_file")
    @classmethod
    def _check_key_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if "/" not in str(value):
            # Putting the key itself here is an easy mistake; never echo it into a log.
            raise Problem(
                "is not the path of a key file (value not shown: it may be the key itself)",
                show_input=False,
            )
        try:
            check_local_path(value, absolute=False)
        except Problem as exc:
            raise Problem(f"{shown_path(value)} {exc}", show_input=False) from None
        if not value.is_absolute():
            # An ephemeral token (auth_tokens/...) holds a slash: still not shown.
            raise Problem(
                "is not an absolute path, and the daemon runs from / under systemd (value not "
                "shown: it may be the key itself)",
                show_input=False,
            )
        read_secret(value)
        return value

    @field_validator("api_key")
    @classmethod
    def _resolve_api_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        key = value.get_secret_value().strip() if value is not None else ""
        if key:
            check_key_shape(key, what="the key")
            return SecretStr(key)
        key_file: Path | None = info.data.get("api_key_file")
        if key_file is not None:
            return SecretStr(read_secret(key_file))
        credential = credential_path()
        if credential is not None:
            try:
                return SecretStr(read_secret(credential))
            except Problem as exc:
                raise Problem(str(exc), variable=CREDENTIAL_VARIABLE, show_input=False) from None
        return None

    @field_validator("vertex_project")
    @classmethod
    def _check_vertex_project(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value else None
        if info.data.get("backend") == "vertex" and not value:
            raise Problem(
                "is not set; it is required when TALKBOX_BACKEND=vertex", show_input=False
            )
        return value

    @field_validator("vertex_location")
    @classmethod
    def _check_vertex_location(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", value.strip()):
            raise Problem("is not a region name")
        return value.strip()

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not _MODEL.fullmatch(value):
            raise Problem("is not a model name (lower-case letters, digits, '.', '-', '_')")
        backend = info.data.get("backend")
        if backend is None:
            return value
        row = model_row(value, backend=backend)
        if row.stage is Stage.RETIRED:
            # The service closes its setup 1008 "not found" (docs/live-models.md §1.3).
            raise Problem(f"is retired and no longer served; use {row.replacement}")
        if row.regional and info.data.get("vertex_location") == "global":
            raise Problem(
                f"{row.name} is not served on the global location "
                "(docs/live-models.md §1.2); use a region such as us-central1",
                variable="TALKBOX_VERTEX_LOCATION",
                show_input=False,
            )
        return value

    @field_validator("api_version")
    @classmethod
    def _check_api_version(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not _API_VERSION.fullmatch(value):
            raise Problem("is not an API version")
        row = row_of(info)
        if row is not None and row.backend == "gemini" and value not in row.api_versions:
            # The service answers a wrong version with the same 1008 as a retired model.
            served = " or ".join(sorted(row.api_versions, reverse=True))
            raise Problem(f"does not serve {row.name} over Live; it is served on {served}")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Problem("is not an http:// or https:// URL with a host")
        try:
            _ = parts.port  # raises on a port that is not a number or out of range
        except ValueError:
            raise Problem("has an invalid port") from None
        return value

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        # PEM bundles may carry non-ASCII comments; only the markers matter here.
        text = read_text(value, errors="replace")
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise Problem(f"{shown_path(value)} holds no PEM certificate", show_input=False)
        try:
            # The link trusts exactly this file; a damaged one would otherwise surface only
            # as a TLS failure at the first connect.
            ssl.create_default_context(cafile=str(value))
        except ssl.SSLError as exc:
            raise Problem(
                f"{shown_path(value)} holds no usable certificate "
                f"({exc.reason or 'damaged PEM data'})",
                show_input=False,
            ) from None
        except OSError as exc:  # the file changed or vanished between the two reads
            raise problem_of(value, exc) from None
        return value
