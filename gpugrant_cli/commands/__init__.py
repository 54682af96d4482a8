"""One module per group of commands; each command is ``(args, runtime) -> exit code``."""
