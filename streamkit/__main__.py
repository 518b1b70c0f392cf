"""``python -m streamkit`` runs the command line."""

from .cli import main

main()
