"""Validation suite 'transients' as a script: `python validation/transients.py --help`. The code lives in gelsim.validation.transients."""

import sys

from gelsim.validation.transients import main

if __name__ == "__main__":
    sys.exit(main())
