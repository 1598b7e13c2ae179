"""The stages chained: ``estimator.PoseEstimator`` (image -> tensor -> network -> heatmaps -> people)
and ``frame_processor.FrameProcessor`` (+ selection, tracks, 3D), which the node, ``litepose bag
analyze`` and the benches call."""
