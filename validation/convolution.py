"""Validation suite 'convolution' as a script: `python validation/convolution.py --help`. The code lives in gelsim.validation.convolution."""

import sys

from gelsim.validation.convolution import main

if __name__ == "__main__":
    sys.exit(main())
