"""Validation suite 'approximations' as a script: `python validation/approximations.py --help`. The code lives in gelsim.validation.approximations."""

import sys

from gelsim.validation.approximations import main

if __name__ == "__main__":
    sys.exit(main())
