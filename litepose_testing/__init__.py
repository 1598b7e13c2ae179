"""Test and benchmark data for litepose_ros: synthetic network outputs and tracking scenes.

Not part of the runtime: setup.py, colcon (CMakeLists.txt) and MANIFEST.in ship only
``litepose_ros``, and test/test_layering.py keeps every ``litepose_ros`` module from importing
this package. test/ reaches it through pytest.ini's ``pythonpath = .``, bench/ through the
repository root each bench puts on ``sys.path``.
"""
