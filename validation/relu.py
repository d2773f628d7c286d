"""Validation suite 'relu' as a script: `python validation/relu.py --help`. The code lives in gelsim.validation.relu."""

import sys

from gelsim.validation.relu import main

if __name__ == "__main__":
    sys.exit(main())
