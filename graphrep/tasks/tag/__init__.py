"""Text-attributed graphs: zero-shot node classification, GraphShaper alignment and label-free adaptation."""
