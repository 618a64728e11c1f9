# XFRM bridge against the live kernel in a private network namespace (docs/XFRM_BRIDGE.md).
# Skips (GTEST_SKIP, reason printed) when not root.
espo_gtest(test_xfrm_live LABEL e2e TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_xfrm_live.cpp
  LIBS espo_ikectl_lib)
