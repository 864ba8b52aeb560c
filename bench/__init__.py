"""The performance suite: see PERFORMANCE.md (``python -m bench.run_all``)."""
