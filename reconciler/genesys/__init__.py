"""Everything that talks to Genesys Cloud.

``config`` (connection from the environment) and ``regions``; ``session``
(auth, pacing via ``pacer``, retries, the one place HTTP statuses become
exceptions) and ``client`` (one method per endpoint we use); then the stages
that call it: ``live`` (reads -> LiveState), ``apply`` (Plan -> writes),
``doctor`` (read-only checks) and ``export`` (live org -> YAML). Decisions are
made in ``reconciler.core``; this package only asks and tells.
"""
