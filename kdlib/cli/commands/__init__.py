"""One module per ``kdlib`` sub-command, each with ``configure(parser)`` and ``run(args)``."""
