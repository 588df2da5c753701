"""``python -m bridge``: the same as ``voice-agent bridge``."""

import sys

from bridge.cli import main

if __name__ == "__main__":
    sys.exit(main())
