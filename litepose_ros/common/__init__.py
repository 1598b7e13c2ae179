"""What every stage shares: the model's description (metadata), and small helpers for files,
user-facing hints and graceful interrupts. Pure Python, no ROS."""
