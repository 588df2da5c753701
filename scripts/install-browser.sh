#!/usr/bin/env sh
# Install Debian's Chromium for the web client's browser tests (tests/e2e/test_web_*.py).
#
# Playwright drives it through `executable_path`; Playwright's own browser download is not
# used. Run as root (CI images usually are) or with sudo available. Does nothing when a
# Chromium is already installed (or CHROMIUM_PATH points at one).
set -eu

if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; then
    echo "chromium: using CHROMIUM_PATH=${CHROMIUM_PATH}"
    exit 0
fi
for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then
        echo "chromium: already installed at $(command -v "$candidate")"
        "$candidate" --version 2>/dev/null || true
        exit 0
    fi
done

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-browser: need root (or sudo) to run apt-get" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# Fonts so screenshots render text; chromium pulls in its own libraries.
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
chromium --version
