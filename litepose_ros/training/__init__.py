"""Training LitePose on COCO / CrowdPose (needs torch; not runtime code).

``datasets`` reads the official layouts, ``transforms`` and ``targets`` turn one annotated
image into network input and training targets, ``loss`` is the reference loss and
``trainer`` runs the (optionally distributed) training loop.
"""
