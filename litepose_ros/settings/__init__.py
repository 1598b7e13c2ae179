"""The node's configuration: the parameter table and what derives from it (launch arguments:
``launch_config``). Pure Python, no ROS."""
