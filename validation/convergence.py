"""Validation suite 'convergence' as a script: `python validation/convergence.py --help`. The code lives in gelsim.validation.convergence."""

import sys

from gelsim.validation.convergence import main

if __name__ == "__main__":
    sys.exit(main())
