"""``python -m kdlib`` (also what ``torchrun -m kdlib`` runs)."""
from kdlib.cli import main

raise SystemExit(main())
