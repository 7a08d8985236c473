"""The planes as libraries, plus the command-line entry points that workloads run."""
