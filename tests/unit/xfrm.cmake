# XFRM bridge message handling (docs/XFRM_BRIDGE.md): messages built with libnl-xfrm.
espo_gtest(test_xfrm_bridge LABEL unit TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_xfrm_bridge.cpp
  LIBS espo_ikectl_lib PkgConfig::LIBNL)
