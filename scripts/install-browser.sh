#!/usr/bin/env sh
# Install Debian's Chromium for the web client's browser tests (tests/e2e/test_web_*.py).
#
# Playwright drives it through `executable_path`; Playwright's own browser download is not
# used. Run as root (CI images usually are) or with sudo available. Does nothing when a
# Chromium is already installed (or CHROMIUM_PATH points at one). The other test tools:
# scripts/install-test-tools.sh.
set -eu
exec sh "$(dirname "$0")/install-test-tools.sh" chromium
