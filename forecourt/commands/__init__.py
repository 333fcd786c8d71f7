"""One module per ``forecourt`` subcommand: ``register(parser)`` and ``run(args) -> int``."""
