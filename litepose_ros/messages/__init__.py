"""Stage 7, people (+ track ids, 3D) -> message: the one builder of litepose_ros/msg/PoseArray
(``pose_array``), for any message classes: rclpy's (``ros.conversions``, the node) or rosbags'
(``bag``, the analyser's output bag). No ROS import."""
