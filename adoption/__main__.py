"""`python -m adoption --help`: see adoption/cli.py."""

from adoption.cli import main

main()
