"""Command-line interface ``eftheory``."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    print("eftheory: not implemented yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
