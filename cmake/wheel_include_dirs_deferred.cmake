# For packages built from unchanged upstream sources against the ROS 2 PyPI wheels
# (scripts/build_launch.sh passes it as CMAKE_PROJECT_INCLUDE): applies the include-dir fix of
# wheel_include_dirs.cmake once that project's find_package calls are done.
include(${CMAKE_CURRENT_LIST_DIR}/wheel_include_dirs.cmake)
cmake_language(DEFER CALL litepose_fix_wheel_include_dirs)
