"""Performance benchmarks; never part of the test suite. Run with `make bench`."""
