"""Latency predictors learned from measurements: architecture sampling, kernel features
(from :mod:`edgekit.tflite.kernels`), per-kernel and model-level regressors with conformal
prediction intervals, and evaluation held out by architecture."""
