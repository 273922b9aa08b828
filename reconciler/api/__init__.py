"""The Genesys Cloud Platform API: session (auth, pacing, retries, errors) and the endpoints we use."""

from reconciler.api.client import GenesysClient
from reconciler.api.session import ApiResponse, ApiSession, ApiStats

__all__ = ["ApiResponse", "ApiSession", "ApiStats", "GenesysClient"]
