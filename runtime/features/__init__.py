"""The feature plane: one implementation of each feature's math, run in batch and one closed bar at a time."""
