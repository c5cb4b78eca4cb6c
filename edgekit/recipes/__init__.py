"""The paper's model family, its training recipes and the datasets they train on.

- :mod:`.family` — the CIFAR-10 CNN family scaled by a width multiplier (``paper_cnn``,
  ``family_param_table``).
- :mod:`.datasets` — digits (shipped with scikit-learn), CIFAR-10 from a folder, ``.npz``.
- :mod:`.training` — baseline, augmentation, augmentation + distillation (``train``).

The pipeline that runs the paper's workflow with them is :mod:`edgekit.pipeline`.
Nothing here imports TensorFlow at import time.
"""
