"""Whether Vertex's application default credentials are usable on this machine.

Apart from `session_config` so that `talkbox run` can check them before READY=1 without
importing google.genai (the link loads that after READY=1); google.auth itself is imported
only when the backend is Vertex.
"""

from __future__ import annotations

import logging

from talkbox.config import Settings, shown

VERTEX_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
"""The scope the SDK asks application default credentials for (google.genai's own)."""


def credential_problems(settings: Settings) -> list[str]:
    """Why the backend cannot authenticate on this machine, or nothing (`check`, `ask`, the link).

    The SDK looks for Vertex's application default credentials only when it connects, so
    without them every connection failed and was retried forever; here they are looked up once.
    """
    if settings.backend != "vertex":
        return []
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    auth_log = logging.getLogger("google.auth")
    level = auth_log.level
    # Each place google.auth looks in without finding credentials logs a WARNING of its own;
    # the one problem below says it all.
    auth_log.setLevel(logging.ERROR)
    try:
        google.auth.default(scopes=list(VERTEX_SCOPES))
    except DefaultCredentialsError as exc:
        reason = shown(str(exc).split(". ")[0].rstrip("."), limit=120)
        return [
            "TALKBOX_BACKEND=vertex needs application default credentials and none are usable "
            f"({reason}): run `gcloud auth application-default login` or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
        ]
    finally:
        auth_log.setLevel(level)
    return []
