#!/usr/bin/env bash
# Removes what scripts/install.sh installed: the service, the unit, /opt/talkbox and the
# talkbox user. Keeps /etc/talkbox (your key and settings) and /var/lib/talkbox (the
# conversation) unless --purge is given.
#
#   scripts/uninstall.sh [--dry-run] [--purge]
#
# DESTDIR=DIR removes the files from a directory tree instead of / (no systemctl, no user).
set -euo pipefail

DESTDIR="${DESTDIR:-}"
DRY_RUN=0
PURGE=0

usage() {
    sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit "$1"
}

while (($#)); do
    case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --purge) PURGE=1 ;;
    -h | --help) usage 0 ;;
    *)
        echo "uninstall.sh: unknown option $1" >&2
        usage 2
        ;;
    esac
    shift
done

say() { echo "talkbox uninstall: $*"; }

# shellcheck source=scripts/_install_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_install_common.sh"

if on_host && ((!DRY_RUN)) && [[ $(id -u) -ne 0 ]]; then
    echo "uninstall.sh: run as root, or with DESTDIR=DIR or --dry-run" >&2
    exit 1
fi

# Once the unit is gone (an uninstall before, or only --purge left to do) systemctl has nothing
# to disable and would only say so.
if on_host && systemd_running && [[ -e /etc/systemd/system/talkbox.service ]]; then
    say "stopping and disabling the service"
    step systemctl disable --now talkbox.service || true
fi
step rm -f "$DESTDIR/etc/systemd/system/talkbox.service"
on_host && systemd_running && step systemctl daemon-reload
step rm -rf "$DESTDIR/opt/talkbox"
if ((PURGE)); then
    say "purging /etc/talkbox and /var/lib/talkbox"
    step rm -rf "$DESTDIR/etc/talkbox" "$DESTDIR/var/lib/talkbox"
else
    say "kept /etc/talkbox and /var/lib/talkbox (--purge removes them)"
fi
if on_host && getent passwd talkbox >/dev/null; then
    step userdel talkbox
fi
say "done"
