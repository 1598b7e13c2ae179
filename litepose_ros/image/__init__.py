"""Stage 1, image -> tensor: ROS image messages -> BGR arrays (``messages``, no ROS import) and
letterbox + normalisation into the network's input tensor (``preprocess``)."""
