"""synthgan: learn a real table and sample synthetic rows that keep its structure."""

__version__ = "0.1.0"
