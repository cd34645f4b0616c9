"""``python -m autolog`` runs the command line."""

from autolog.cli import main

raise SystemExit(main())
