"""The pure core: what the files declare, what should change, and how to show it.

Everything here is a pure function of its inputs: desired-state files are the
only thing read (by ``desired/``), and nothing talks to Genesys, writes the
ledger or reads a clock. In pipeline order: ``model`` (values) and
``settings``, ``desired/`` (files -> DesiredState), ``resolve`` + ``plan``
(DesiredState + LiveState -> Plan), ``history`` and ``drift`` (what the
ledger's records mean), ``saved`` (saved plans), ``results`` (apply outcomes),
``audit`` and ``report/`` (renderings). ``.importlinter`` keeps it from
importing ``httpx`` or any effectful package of reconciler.
"""
