"""The venue simulator: BingX's REST and WebSocket protocol over a seeded market and a matching
engine, with fault injection. It is the only stand-in in the system: the real exchange is not
reachable from development and CI machines."""
