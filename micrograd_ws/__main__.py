"""``python -m micrograd_ws COMMAND``: see :mod:`micrograd_ws.commands`."""
import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
