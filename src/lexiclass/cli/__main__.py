"""``python -m lexiclass.cli ...``: the ``lexiclass`` command without its console script."""

import sys

from lexiclass.cli import main

sys.exit(main())
