"""reconciler: keep Genesys Cloud user state equal to what is committed in git.

The pipeline, one module per stage, in the order a run goes through them:

    desired  (files -> DesiredState)         pure, local files only
    live     (Genesys -> LiveState)          reads the API
    plan     (DesiredState + LiveState -> Plan)   pure
    apply    (Plan -> ApplyResult)           writes the API and the ledger
    report   (Plan / ApplyResult -> text, JSON, Markdown)   pure

``engine`` joins them; the CLI and the scheduler both call it.
"""

__version__ = "0.1.0"
