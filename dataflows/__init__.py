"""Bytewax wiring: sources, sinks, ``build_flow`` and the ``alertflow`` command."""
