# shellcheck shell=bash
# Sourced by install.sh and uninstall.sh: the pieces both scripts run their steps with.

# Runs a step, or prints it under --dry-run (DRY_RUN=1).
step() {
    if ((DRY_RUN)); then
        printf '  would run:'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

# True when installing onto this machine, false into a DESTDIR tree.
on_host() { [[ -z "${DESTDIR:-}" ]]; }

# sd_booted(3)'s test. TALKBOX_SYSTEMD_RUN lets a test point it elsewhere.
SYSTEMD_RUN="${TALKBOX_SYSTEMD_RUN:-/run/systemd/system}"
systemd_running() { [[ -d "$SYSTEMD_RUN" ]]; }
