"""`python -m reconciler`: the same as the `reconciler` console script."""

import sys

from reconciler.cli.main import entry

sys.exit(entry())
