"""Pure graph transforms: structural descriptors, augmentations."""
