"""The node's configuration, pure Python (no ROS), one job per module:

* ``parameters``: the parameter schema and the one table (name, default, range, help) with its checks;
* ``params_file``: a ROS 2 parameters file -> the values that apply to the node;
* ``factories``: the pose estimator and the person tracker built from the values;
* ``markdown``: the README's parameter table;
* ``launch_config``: the launch arguments and their resolution (the launch file's logic).
"""
