"""The paper's model family and training recipes, and the pipeline that runs its workflow.

- :mod:`.family` — the CIFAR-10 CNN family scaled by a width multiplier (``paper_cnn``,
  ``family_param_table``).
- :mod:`.datasets` — digits (shipped with scikit-learn), CIFAR-10 from a folder, ``.npz``.
- :mod:`.training` — baseline, augmentation, augmentation + distillation (``train``).
- :mod:`.pipeline_file` / :mod:`.pipeline` — pipeline TOML files and ``run_pipeline``;
  :mod:`.stages`, :mod:`.measure_stage`, :mod:`.report_stage` run its stages in the folder
  laid out by :mod:`.run_folder`; :mod:`.strategies` states the paper's two strategies.

Nothing here imports TensorFlow at import time.
"""
