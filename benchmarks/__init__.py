"""Benchmarks of the speed and scale promises: ack latency, watcher scale, alert fan-out.

The promises are in docs/reference/guarantees.md#speed-and-scale.

`python -m benchmarks` runs all three and prints one table each (see `benchmarks/README.md`).
Every figure is measured within one run on this machine and, where the issue asks for it, set
against a baseline measured in the same run, because absolute times on a shared 2-core box mean
little from one day to the next.
"""
