"""Stage 1 of the pipeline: desired-state files -> DesiredState. Local files only, never the network."""

from reconciler.core.desired.state import digest_of, load_desired, parse_instant

__all__ = ["digest_of", "load_desired", "parse_instant"]
