"""``python -m ganzoo.cli``, as ``torchrun -m ganzoo.cli train ...`` runs it."""

from ganzoo.cli import main

if __name__ == "__main__":
    main()
