# ikectl daemon: control-protocol parser, dispatcher, SA table, checkpoint restore, config reload,
# a device that fails (ikectl/include/espo/ikectl/daemon.hpp, docs/CONTROL_PROTOCOL.md).
espo_gtest(test_daemon LABEL unit TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_daemon.cpp
  LIBS espo_ikectl_lib)
