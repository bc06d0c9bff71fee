"""Segmentation: generated and folder data, augmentation, the paper's loss, training, checkpoints,
overlap-tile prediction and the shipped pretrained models. Imports the core only (no matplotlib, no ipywidgets)."""
