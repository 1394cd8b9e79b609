"""Orchestration of the long jobs that are not the library: convert, train, eval, distill."""
