"""Non-graph data as graphs: images as patch graphs, documents as token graphs, trajectories as transition graphs.

Each converter returns PyG ``Data`` / ``Batch`` (or is a ``BaseTransform``), after which graphrep's encoders and
objectives apply unchanged.
"""

from .image import ImageToPatchGraph, grid_edges, image_to_patch_graph, images_to_patch_graphs, sine_position_encoding_2d
from .text import (DocumentToTokenGraph, TokenGraphBuilder, encoder_token_embeddings, encoder_tokenizer,
                   whitespace_tokenize)
from .trajectory import gps_to_transition_graph, read_visits, stay_locations, stay_points, transition_graph

__all__ = [
    "DocumentToTokenGraph", "ImageToPatchGraph", "TokenGraphBuilder", "encoder_token_embeddings", "encoder_tokenizer",
    "gps_to_transition_graph", "grid_edges", "image_to_patch_graph", "images_to_patch_graphs",
    "read_visits", "sine_position_encoding_2d", "stay_locations", "stay_points", "transition_graph", "whitespace_tokenize",
]
