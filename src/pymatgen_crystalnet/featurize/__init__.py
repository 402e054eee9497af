"""Model inputs: the 1024-bin XRD vector, the 118-element composition vector, augmentations."""
