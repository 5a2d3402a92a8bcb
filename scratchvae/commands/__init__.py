"""The subcommands of ``scratchvae``, one module each: ``add_arguments(parser)`` and ``run(args)``."""
