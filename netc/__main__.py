"""`python -m netc ...`: the command line as the `netc` script runs it (`torchrun -m netc` uses it)."""
import sys

from .cli import main

sys.exit(main())
