#!/usr/bin/env sh
# Install the tools the tests skip without: Chromium (web client browser tests), espeak-ng and
# sox (the bridge's audio path, tested with a synthesized WAV) and the AWS SAM CLI
# (`sam validate --lint`, `sam build`). Debian/Ubuntu; run as root or with sudo.
#
#     sh scripts/install-test-tools.sh
#
# Nothing else needs installing for `uv run pytest`: without these tools their tests skip and
# say which tool is missing.
set -eu

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-test-tools: need root (or sudo) to run apt-get" >&2
    exit 1
fi

missing=""
command -v espeak-ng >/dev/null 2>&1 || missing="$missing espeak-ng"
command -v sox >/dev/null 2>&1 || missing="$missing sox"
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    # Fonts so screenshots render text; chromium pulls in its own libraries.
    missing="$missing chromium fonts-dejavu-core"
fi
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# The SAM CLI from PyPI, as a uv tool (on PATH in ~/.local/bin).
command -v sam >/dev/null 2>&1 || uv tool install aws-sam-cli

echo "installed: $(command -v chromium || command -v chromium-browser)," \
     "$(command -v espeak-ng), $(command -v sox), $(command -v sam || echo "$HOME/.local/bin/sam")"
