"""Proposals: turn an HR export or the org's dormant accounts into desired-state YAML for review.

Pure. In: the text of a CSV export (and of a reason-mapping file), or activity
records already read from Genesys; out: immutable values and the YAML text a
pull request carries. Nothing here reads a file, a clock or the network: the
CLI reads the inputs, genesys/propose.py reads the org. In pipeline order:
``dates`` (cells -> instants), ``reasons`` (HR reasons -> Genesys codes),
``hrcsv`` (export text -> rows), ``select`` (what is already declared,
dormancy), ``yamlout`` (-> the file).
"""
