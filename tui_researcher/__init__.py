"""tui-researcher: an autonomous deep-learning experiment loop for remote GPUs."""

__version__ = "0.1.0"
