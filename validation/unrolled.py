"""Validation suite 'unrolled' as a script: `python validation/unrolled.py --help`. The code lives in gelsim.validation.unrolled."""

import sys

from gelsim.validation.unrolled import main

if __name__ == "__main__":
    sys.exit(main())
