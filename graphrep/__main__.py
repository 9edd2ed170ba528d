"""``python -m graphrep`` is the ``graphrep`` command."""

import sys

from .cli import main

sys.exit(main())
