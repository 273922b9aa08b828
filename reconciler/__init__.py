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

import sys

# httpx imports its own command-line client (click, rich's console, pygments: about 0.1 s of
# CPU, a third of importing httpx) whenever click happens to be installed, and we never run it.
# A None entry makes that optional import fail the way httpx expects when click is absent.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
