# `ikectl simulate`: CountingDevice semantics and the table-pressure simulation (small M / S,
# short simulated durations; metrics are asserted, never wall time).
espo_gtest(simulate_test LABEL unit TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_simulate.cpp
  LIBS espo_ikectl_lib espo_sdk espo_driver nlohmann_json::nlohmann_json)
