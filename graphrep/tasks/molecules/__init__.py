"""Molecule property prediction: experiments over seeds, the fingerprint forest, fine-tuning recipes, self-supervised pre-training and the main job."""
