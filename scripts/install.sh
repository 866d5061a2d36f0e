#!/usr/bin/env bash
# Installs talkbox as a systemd service on Raspberry Pi OS (Bookworm, Trixie) or Debian 12/13:
# apt packages, the `talkbox` system user, a venv under /opt/talkbox, the unit, and
# /etc/talkbox/talkbox.env from the template (only if absent). Run as root from a checkout.
#
#   scripts/install.sh [--dry-run] [--no-start] [--wheel FILE]
#
# --dry-run prints every step instead of doing it. DESTDIR=DIR installs the files into a
# directory tree instead of / (for packaging and tests): no apt, no user, no systemctl. The
# tree is made to run once unpacked at /: its venv names /opt/talkbox/venv, not DIR (so run it
# from DIR only through its python: DIR/opt/talkbox/venv/bin/python -m talkbox).
# Where systemd is not running (a chroot, a container, an image being built) the unit is
# enabled for the next boot if systemctl exists, and nothing is started or reloaded.
# Running it again changes nothing that is already in place; the env file is never overwritten.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DESTDIR="${DESTDIR:-}"
PREFIX="/opt/talkbox"
VENV="$PREFIX/venv"
ETC="/etc/talkbox"
UNIT_DIR="/etc/systemd/system"
DRY_RUN=0
START=1
WHEEL=""

usage() {
    sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit "$1"
}

while (($#)); do
    case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-start) START=0 ;;
    --wheel)
        [[ $# -ge 2 ]] || usage 2
        WHEEL="$2"
        shift
        ;;
    -h | --help) usage 0 ;;
    *)
        echo "install.sh: unknown option $1" >&2
        usage 2
        ;;
    esac
    shift
done

# Under --dry-run every line says so: nothing it reports has happened.
say() {
    if ((DRY_RUN)); then
        echo "talkbox install (dry run): $*"
    else
        echo "talkbox install: $*"
    fi
}

# shellcheck source=scripts/_install_common.sh
source "$ROOT/scripts/_install_common.sh"

if on_host && ((!DRY_RUN)) && [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (sudo scripts/install.sh), or with DESTDIR=DIR or --dry-run" >&2
    exit 1
fi

PY="${PYTHON:-python3}"

install_packages() {
    # Each entry: "apt-package|shell test that succeeds when it is already usable".
    local needs=(
        "python3|command -v $PY >/dev/null"
        "python3-venv|$PY -c 'import venv, ensurepip' 2>/dev/null"
        "python3-dev|$PY -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()[\"include\"], \"Python.h\")))' 2>/dev/null"
        "gcc|command -v gcc >/dev/null"
        # pyspeex-noise 1.0.2 is a C++ sdist (2.x has wheels, but its auto gain outputs silence).
        "g++|command -v g++ >/dev/null"
        "libasound2-dev|test -e /usr/include/alsa/asoundlib.h"
        "alsa-utils|command -v aplay >/dev/null"
        # Echo cancellation (TALKBOX_ECHO_CANCEL=auto): speex's canceller, loaded with ctypes.
        "libspeexdsp1|$PY -c 'import ctypes; ctypes.CDLL(\"libspeexdsp.so.1\")' 2>/dev/null"
        "ca-certificates|test -s /etc/ssl/certs/ca-certificates.crt"
    )
    local missing=() entry
    for entry in "${needs[@]}"; do
        eval "${entry#*|}" || missing+=("${entry%%|*}")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        step env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        step env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    # lgpio ships wheels for Python 3.11 only; on 3.13 (Trixie) it comes from Debian. Asked
    # only once python3 is surely there (a bare system has none, which must not read as 3.13),
    # and only of an apt that has the package (Raspberry Pi OS; plain Debian 12 has none).
    if "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null &&
        ! "$PY" -c 'import lgpio' 2>/dev/null; then
        if apt-cache show python3-lgpio >/dev/null 2>&1; then
            say "installing python3-lgpio (lgpio has no wheel for this Python)"
            step env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-lgpio
        else
            say "warning: no lgpio for this Python (no wheel, no python3-lgpio): GPIO will not work"
        fi
    fi
}

create_user() {
    # A plain Debian has no gpio group; the unit's SupplementaryGroups needs it to exist.
    local group
    for group in audio gpio; do
        getent group "$group" >/dev/null || step groupadd --system "$group"
    done
    if ! getent passwd talkbox >/dev/null; then
        say "creating the system user talkbox"
        step useradd --system --home-dir /var/lib/talkbox --no-create-home \
            --shell /usr/sbin/nologin --groups audio,gpio talkbox
    else
        step usermod --append --groups audio,gpio talkbox
    fi
}

install_venv() {
    local venv="$DESTDIR$VENV" source="$ROOT" pip=(-m pip install --quiet --disable-pip-version-check)
    [[ -n "$WHEEL" ]] && source="$WHEEL"
    # In a DESTDIR tree pip's .pyc files would record DIR as their source: relocate_venv
    # compiles them for /opt/talkbox instead.
    on_host || pip+=(--no-compile)
    say "installing talkbox into $venv"
    # --system-site-packages lets Debian's python3-lgpio serve where no wheel exists.
    [[ -x "$venv/bin/python" ]] || step "$PY" -m venv --system-site-packages "$venv"
    step "$venv/bin/python" "${pip[@]}" --upgrade pip
    step "$venv/bin/python" "${pip[@]}" --upgrade "$source"
    # gpiozero's pin factory on a Pi. Raspberry Pi OS ships python3-lgpio (seen through
    # --system-site-packages); plain Debian 12 on arm64 has neither it nor a dependency that
    # pulls it in, but PyPI has an aarch64 wheel for Python 3.11 (docs/platform.md §6).
    if [[ $(uname -m) == aarch64 ]] && "$PY" -c 'import sys; sys.exit(sys.version_info >= (3, 12))' &&
        ! "$venv/bin/python" -c 'import lgpio' 2>/dev/null; then
        step "$venv/bin/python" "${pip[@]}" lgpio
    fi
    step install -D -m 0644 "$ROOT/README.md" "$DESTDIR$PREFIX/README.md"
    relocate_venv
}

relocate_venv() {
    # venv and pip write the venv's path into it (shebangs, activate, pyvenv.cfg, .pyc files):
    # built at DIR/opt/talkbox/venv, it must name /opt/talkbox/venv to run once moved to /.
    on_host && return 0
    say "making $DESTDIR$VENV run from $VENV, where the tree is meant to be unpacked"
    step "$DESTDIR$VENV/bin/python" "$ROOT/scripts/_relocate_venv.py" "$DESTDIR$VENV" "$VENV"
}

install_files() {
    say "installing the unit and the configuration template"
    step install -D -m 0644 "$ROOT/systemd/talkbox.service" "$DESTDIR$UNIT_DIR/talkbox.service"
    step install -D -m 0644 "$ROOT/config/talkbox.env" "$DESTDIR$PREFIX/talkbox.env.template"
    step install -d -m 0755 "$DESTDIR$ETC"
    local env_file="$DESTDIR$ETC/talkbox.env"
    if [[ -e "$env_file" ]]; then
        say "$ETC/talkbox.env exists: kept as it is"
    else
        step install -m 0640 "$ROOT/config/talkbox.env" "$env_file"
    fi
    # The service user reads the env file only through systemd (as root); group talkbox may
    # read it for `talkbox check`, unless it holds the key, which root alone may read.
    if [[ -e "$env_file" ]] || ((DRY_RUN)); then
        local group=root mode=0640
        on_host && getent group talkbox >/dev/null && group=talkbox
        if [[ -e "$env_file" ]] && grep -qE '^[[:space:]]*(export[[:space:]]+)?(GEMINI_API_KEY|GOOGLE_API_KEY)=.+' "$env_file"; then
            mode=0600
            group=root
        fi
        if on_host; then
            step chown "root:$group" "$env_file"
        fi
        step chmod "$mode" "$env_file"
    fi
}

start_service() {
    local check_ok=1
    say "checking the configuration"
    # As root: the env file may be root's alone once it holds the key.
    step install -d -m 0750 -o talkbox -g talkbox /var/lib/talkbox
    if ((DRY_RUN)); then
        step env STATE_DIRECTORY=/var/lib/talkbox "$VENV/bin/talkbox" check --config "$ETC/talkbox.env"
    elif ! env STATE_DIRECTORY=/var/lib/talkbox "$VENV/bin/talkbox" check --config "$ETC/talkbox.env"; then
        check_ok=0
    fi
    if ! systemd_running; then
        # systemctl would only fail here ("System has not been booted with systemd"); enabling
        # is a matter of symlinks, which systemctl makes offline.
        say "systemd is not running here (no $SYSTEMD_RUN): talkbox.service is not started"
        if command -v systemctl >/dev/null; then
            step systemctl enable talkbox.service
            if ((DRY_RUN)); then
                say "talkbox.service would be enabled: it would start when this system boots with systemd"
            else
                say "talkbox.service is enabled: it starts when this system boots with systemd"
            fi
        else
            say "systemctl is missing: enable the service once systemd runs (systemctl enable --now talkbox)"
        fi
        return 0
    fi
    step systemctl daemon-reload
    step systemctl enable talkbox.service
    if ((START)) && ((check_ok)); then
        step systemctl restart talkbox.service
    elif ((!check_ok)); then
        say "not started: fix the configuration above first"
    fi
}

next_steps() {
    cat <<EOF

Next steps:
  1. Put your Gemini API key in $ETC/talkbox.env (GEMINI_API_KEY=...), or in
     /etc/credstore/gemini_api_key (mode 0600), then: chmod 0600 $ETC/talkbox.env
  2. Check it against the service:  sudo $VENV/bin/talkbox check --online --config $ETC/talkbox.env
  3. Start it and watch the log:    systemctl restart talkbox && journalctl -u talkbox -f
EOF
}

if on_host; then
    install_packages
    create_user
fi
install_venv
install_files
if on_host; then
    start_service
fi
next_steps
