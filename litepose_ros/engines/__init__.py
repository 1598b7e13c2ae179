"""Building and describing deployable engines (TensorRT plans, LiteRT flatbuffers).

``tensorrt_build`` needs the full TensorRT Python API and pycuda; ``tflite_export`` and
``torch_backend`` need torch and litert-torch. Import those modules explicitly; this package
imports nothing heavy. The engine sidecar, which the TensorRT backend reads at load time, is
runtime code and lives below this package, in ``litepose_ros.backends.sidecar``.
"""
