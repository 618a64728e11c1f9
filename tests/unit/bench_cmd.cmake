# `ikectl bench` library: size parsing, parameter errors, and a small run on ModelDevice whose
# every packet is checked (the rates themselves are never asserted).
espo_gtest(bench_cmd_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bench_cmd.cpp
  LIBS espo_ikectl_lib espo_devices espo_driver nlohmann_json::nlohmann_json)
