# XFRM bridge against the live kernel in a private network namespace (docs/XFRM_BRIDGE.md).
# Skips (GTEST_SKIP, reason printed) when not root.
espo_gtest(test_xfrm_live LABEL e2e TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_xfrm_live.cpp
  LIBS espo_ikectl_lib)
# `ikectl daemon --xfrm` in a network namespace of its own: an ACQUIRE reaches `ikectl monitor`
# as an "xfrm-acquire" event. Needs root and `ip netns`; skips (unittest.SkipTest) otherwise.
add_test(NAME e2e_xfrm_daemon
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_xfrm_daemon.py
                 --ikectl $<TARGET_FILE:ikectl> -v)
set_tests_properties(e2e_xfrm_daemon PROPERTIES LABELS e2e TIMEOUT 120)
