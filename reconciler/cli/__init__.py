"""The `reconciler` command line: one module per verb, thin.

Each verb parses its arguments, asks the engine (or the sandbox, for
``sandbox`` and ``demo``) to do the work, picks a rendering from
``reconciler.core.report`` and maps the outcome to an exit code. Decisions
live in ``reconciler.core``; the CLI only turns exceptions into messages
(``main.py``) and results into output (``common.py``).
"""
