"""Models: one file per method, composing ``graphrep.nn`` parts and ``graphrep.objectives``."""

from .graphshaper import VARIANTS, GraphShaper, GraphShaperOutput

__all__ = ["GraphShaper", "GraphShaperOutput", "VARIANTS"]
