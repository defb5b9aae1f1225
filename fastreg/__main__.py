"""``python -m fastreg``: the same command line as the ``fastreg`` script (see fastreg.cli)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
