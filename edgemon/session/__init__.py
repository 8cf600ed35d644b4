"""One session in this process: its configuration, the LiveSession that wires worker, sampler,
recorder and controls, and the headless loop."""
