# shellcheck shell=bash
# Sourced by scripts/demo and scripts/test: makes this checkout runnable on a fresh
# Debian 12 / Raspberry Pi OS machine (apt packages, .venv, the project with its dev extra).
# Running it again is fast: nothing is reinstalled while pyproject.toml is unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

# Each entry: "apt-package|shell test that succeeds when it is already usable".
APT_NEEDS=(
    "python3|command -v $PY >/dev/null"
    "python3-venv|$PY -c 'import venv, ensurepip' 2>/dev/null"
    "ca-certificates|test -s /etc/ssl/certs/ca-certificates.crt"
    # The tests check the unit with systemd-analyze (nothing is booted) and lint every script.
    "systemd|command -v systemd-analyze >/dev/null"
    "shellcheck|command -v shellcheck >/dev/null"
    # pyalsaaudio ships as an sdist only: it compiles against the ALSA headers with gcc.
    "libasound2-dev|test -f /usr/include/alsa/asoundlib.h"
    "gcc|command -v gcc >/dev/null"
    # pyspeex-noise 1.0.2 is a C++ sdist (2.x has wheels, but its auto gain outputs silence).
    "g++|command -v g++ >/dev/null"
    # Echo cancellation (TALKBOX_ECHO_CANCEL=auto): speex's canceller, loaded with ctypes.
    "libspeexdsp1|$PY -c 'import ctypes; ctypes.CDLL(\"libspeexdsp.so.1\")' 2>/dev/null"
    "python3-dev|$PY -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_path(\"include\"), \"Python.h\")))'"
)

missing=()
for entry in "${APT_NEEDS[@]}"; do
    pkg="${entry%%|*}"
    check="${entry#*|}"
    eval "$check" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "talkbox setup: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "talkbox setup: missing system packages; run:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "talkbox setup: Python >= 3.11 is required, $PY is $("$PY" -V 2>&1)" >&2
    exit 1
fi

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"

stamp="$VENV/.talkbox-installed"
want="$(sha256sum <"$ROOT/pyproject.toml" | cut -d' ' -f1) $("$VENV/bin/python" -V 2>&1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "talkbox setup: installing the project into $VENV" >&2
    rm -f "$stamp"
    # Explicit checks: errexit is off when this file is sourced inside an `if` or `&&` list,
    # and a half-installed venv must never be stamped as up to date.
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip ||
        ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "${ROOT}[dev]"; then
        echo "talkbox setup: installing the Python packages failed (see above)" >&2
        exit 1
    fi
    echo "$want" >"$stamp"
fi

export PATH="$VENV/bin:$PATH"
cd "$ROOT"
