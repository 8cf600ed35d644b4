"""Live metrics for Prometheus: ``edgemon run --prometheus [HOST:]PORT``."""
