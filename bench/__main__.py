"""``python -m bench``: see ``bench.stack``."""

import sys

from bench.stack import main

sys.exit(main())
