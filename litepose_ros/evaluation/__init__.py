"""Accuracy evaluation (tooling, not runtime): COCO / CrowdPose scoring (``coco``) and the named
evaluation protocols (``protocols``, light enough for the CLI to list at start-up)."""
