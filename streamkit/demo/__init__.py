"""Demo pipelines on real data: ``python -m streamkit.demo.flights``."""
