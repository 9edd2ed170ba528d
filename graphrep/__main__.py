"""``python -m graphrep`` is the ``graphrep`` command."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI module itself loads: the same one line as everywhere else
    print("graphrep: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
