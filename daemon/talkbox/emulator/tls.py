"""The test CA and the loopback server certificate (trustme)."""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class Certificates:
    """The server's TLS context and where the CA that signed its certificate was written."""

    server_context: ssl.SSLContext
    ca_file: Path
    temp_dir: tempfile.TemporaryDirectory[str] | None

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts exactly the emulator's CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def cleanup(self) -> None:
        """Remove the temporary directory holding the CA, if one was made."""
        if self.temp_dir is not None:
            self.temp_dir.cleanup()
            self.temp_dir = None


def make_certificates(ca_out: Path | None) -> Certificates:
    """A fresh CA (PEM written to `ca_out`, else a temp dir) and a cert for 127.0.0.1/localhost."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    temp_dir = None
    if ca_out is None:
        temp_dir = tempfile.TemporaryDirectory(prefix="talkbox-emulator-")
        ca_out = Path(temp_dir.name) / "emulator-ca.pem"
    ca_out.parent.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(ca_out))
    return Certificates(context, ca_out, temp_dir)
