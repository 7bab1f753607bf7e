"""`python -m mnist_tui` is the same as the `mnist-tui` console script."""

import sys

from mnist_tui.cli import main

sys.exit(main())
