"""``python -m lensfinder_nb.cli`` is the ``lensfinder`` command."""

import sys

from . import main

sys.exit(main())
