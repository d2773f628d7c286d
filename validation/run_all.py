"""Every validation suite and the HTML report: the same as `gelsim validate` (see --help)."""

import sys

from gelsim.cli import main

if __name__ == "__main__":
    sys.exit(main(["validate", *sys.argv[1:]]))
