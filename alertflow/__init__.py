"""alertflow: a streaming AIOps engine on Bytewax.

Installed, the repository's top-level folders live under this one namespace
(``pyproject.toml`` maps them): ``alertflow.schemas`` is ``schemas/``,
``alertflow.operators`` is ``operators/``, ``alertflow.dataflows`` is ``dataflows/``,
``alertflow.store`` is ``store/`` and ``alertflow.api`` is ``api/``,
so nothing generic lands at the top of site-packages.
"""
