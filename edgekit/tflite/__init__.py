"""The ``.tflite`` file format and LiteRT on this host.

- :mod:`.model_file` — operators (with versions), tensors and metadata read straight from
  the flatbuffer, without TensorFlow (``read_model``).
- :mod:`.interpreter` — ``LiteRTModel``: the LiteRT interpreter wrapper that evaluate and
  the converter's fidelity check share (quantized inputs and outputs handled).
- :mod:`.quiet` — ``quiet_tensorflow``: TensorFlow's console output into the log.
"""

from .model_file import ModelFile, OperatorInfo, TensorInfo, read_model

__all__ = ["ModelFile", "OperatorInfo", "TensorInfo", "read_model"]
