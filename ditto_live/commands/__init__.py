"""Subcommands of the ditto-live CLI, one module each."""
