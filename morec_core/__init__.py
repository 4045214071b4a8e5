"""morec's engine: data, item encoders, user backbones, training, evaluation, the run store.

Nothing here imports a terminal UI library; heavy libraries (torch, transformers) are imported
by the modules that need them, never by this package's import.
"""

__version__ = "0.1.0"
