"""Exporters from the PyTorch model to deployable files (ONNX; TensorRT and TFLite start from it).

Import ``litepose_ros.export.onnx_export`` explicitly: it needs torch, onnx and onnxruntime.
``verify`` (an exported or built model against its reference, per image) needs neither: engine
builds on the robot use it too.
"""
