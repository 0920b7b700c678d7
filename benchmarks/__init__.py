"""Benchmarks of the promises in SPEC section 7: ack latency, watcher scale, alert fan-out.

`python -m benchmarks` runs all three and prints one table each (see `benchmarks/README.md`).
Every figure is measured within one run on this machine and, where the issue asks for it, set
against a baseline measured in the same run, because absolute times on a shared 2-core box mean
little from one day to the next.
"""
