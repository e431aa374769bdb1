"""``python -m glassnet``: the same as the ``glassnet`` command."""

import sys

from glassnet.cli import main

sys.exit(main())
