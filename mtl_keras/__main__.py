"""`python -m mtl_keras COMMAND ...`: the same as `mtl-keras COMMAND ...`."""

import sys

from mtl_keras import cli

sys.exit(cli.main())
