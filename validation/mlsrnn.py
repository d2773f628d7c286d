"""Validation suite 'mlsrnn' as a script: `python validation/mlsrnn.py --help`. The code lives in gelsim.validation.mlsrnn."""

import sys

from gelsim.validation.mlsrnn import main

if __name__ == "__main__":
    sys.exit(main())
