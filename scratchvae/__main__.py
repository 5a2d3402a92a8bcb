"""``python -m scratchvae`` is the same as the ``scratchvae`` command."""

import sys

from scratchvae.cli import main

if __name__ == "__main__":
    sys.exit(main())
