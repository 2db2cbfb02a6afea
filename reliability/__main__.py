"""``python -m reliability``: see ``reliability.cli``."""

import sys

from reliability.cli import main

sys.exit(main())
