"""Building and describing deployable engines (TensorRT plans, LiteRT flatbuffers).

``sidecar`` is runtime code (it runs on the Jetson, Python 3.6). ``tensorrt_build`` needs
the full TensorRT Python API and pycuda; ``tflite_export`` and ``torch_backend`` need torch
and litert-torch. Import those modules explicitly; this package imports nothing heavy.
"""
