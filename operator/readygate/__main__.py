"""``python -m readygate``: the same as the ``readygate`` command."""

import sys

from readygate.cli import main

sys.exit(main())
