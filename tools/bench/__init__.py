"""PMT benchmarks: `python -m tools.bench <pkg>|all|setup-ref` (see README.md)."""
