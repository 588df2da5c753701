#!/usr/bin/env sh
# Install the tools the tests skip without: Chromium (web client browser tests), espeak-ng and
# sox (the bridge's audio path, tested with a synthesized WAV) and the AWS SAM CLI
# (`sam validate --lint`, `sam build`). Debian/Ubuntu; run as root or with sudo.
#
#     sh scripts/install-test-tools.sh                 # all four
#     sh scripts/install-test-tools.sh chromium        # only some: chromium espeak-ng sox sam
#
# Nothing else needs installing for `uv run pytest`: without these tools their tests skip and
# say which tool is missing. Tools already installed are left alone.
set -eu

wanted="${*:-chromium espeak-ng sox sam}"
packages=""
for tool in $wanted; do
    case "$tool" in
        chromium)
            if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; then
                echo "chromium: using CHROMIUM_PATH=${CHROMIUM_PATH}"
            elif ! command -v chromium >/dev/null 2>&1 \
                    && ! command -v chromium-browser >/dev/null 2>&1; then
                # Fonts so screenshots render text; chromium pulls in its own libraries.
                packages="$packages chromium fonts-dejavu-core"
            fi ;;
        espeak-ng|sox)
            command -v "$tool" >/dev/null 2>&1 || packages="$packages $tool" ;;
        sam) ;;
        *) echo "install-test-tools: unknown tool '$tool' (chromium espeak-ng sox sam)" >&2
           exit 2 ;;
    esac
done

if [ -n "$packages" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-test-tools: need root (or sudo) to run apt-get for:$packages" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    $SUDO apt-get install -y -qq --no-install-recommends $packages
fi

case " $wanted " in
    *" sam "*)
        # The SAM CLI from PyPI, as a uv tool (in ~/.local/bin).
        command -v sam >/dev/null 2>&1 || [ -x "$HOME/.local/bin/sam" ] \
            || uv tool install aws-sam-cli ;;
esac

for tool in $wanted; do
    case "$tool" in
        chromium) found="$(command -v chromium || command -v chromium-browser \
                           || echo "${CHROMIUM_PATH:-missing}")" ;;
        sam) found="$(command -v sam || echo "$HOME/.local/bin/sam")" ;;
        *) found="$(command -v "$tool" || echo missing)" ;;
    esac
    echo "$tool: $found"
done
