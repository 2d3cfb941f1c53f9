"""Entry point for ``python -m comedian <stage> ...``."""

from comedian.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
