"""`python -m fdc …` is the same as the `fdc` console script."""

import sys

from fdc.cli import main

sys.exit(main())
