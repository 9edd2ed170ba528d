"""Non-graph data seen as graphs: images, documents and trajectories through graphrep encoders."""
