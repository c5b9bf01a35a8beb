"""``python -m micrograd_ws COMMAND``: see :mod:`micrograd_ws.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
