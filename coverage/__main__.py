"""``python -m coverage``: the command line."""

import sys

try:
    from coverage.cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing started, nothing to say
    sys.exit(130)

sys.exit(main())
