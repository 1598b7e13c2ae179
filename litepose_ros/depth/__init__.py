"""Stage 6, people -> 3D: keypoints lifted with a registered depth image (``lift``). Pure numpy."""
