"""mnist-tui: benchmark handwritten-digit recognisers on MNIST, live in the terminal or headless."""

__version__ = "0.1.0"
