"""``python -m readygate``: the same as the ``readygate`` command."""

import sys

from readygate.cli.main import main

sys.exit(main())
