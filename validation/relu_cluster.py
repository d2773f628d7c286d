"""Validation suite 'relu_cluster' as a script: `python validation/relu_cluster.py --help`. The code lives in gelsim.validation.relu."""

import sys

from gelsim.validation.relu import main

if __name__ == "__main__":
    sys.exit(main())
