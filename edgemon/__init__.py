"""edgemon: run deep-learning inference stress tests and record the machine alongside them."""

__version__ = "0.1.0"
