"""``python -m skhypernas.experiments``: see :mod:`skhypernas.experiments.cli`."""

from .cli import main

if __name__ == "__main__":
    main()
