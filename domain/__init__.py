"""Pure domain rules of a sick-leave case: deterministic, no I/O, no Temporal imports.

Workflows call into this package to decide; tests run it in microseconds.
"""
