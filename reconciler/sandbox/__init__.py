"""A local, faithful fake of the Genesys Cloud endpoints reconciler uses, over real HTTP.

The demo and the end-to-end tests run against it. It emulates Genesys, not
this client: where Genesys is undocumented it takes the strictest plausible
reading. It imports nothing from the client side (core/, genesys/, ...).
"""
