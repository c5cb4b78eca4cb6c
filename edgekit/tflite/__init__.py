"""The ``.tflite`` file format: read operators (with versions), tensors and metadata
straight from the flatbuffer, without TensorFlow."""

from .model_file import ModelFile, OperatorInfo, TensorInfo, read_model

__all__ = ["ModelFile", "OperatorInfo", "TensorInfo", "read_model"]
