"""``python -m itk_tag``: the itk-tag command line."""

import sys

from .cli import main

sys.exit(main())
