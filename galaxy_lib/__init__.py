"""Galaxy Workbench: a Jupyter-based marketing-science workbench.

Workflow packages (``inventory``, ``mmm``, ``mta``, ...) never import each other;
they share :mod:`galaxy_lib.core` and :mod:`galaxy_lib.governance`.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
