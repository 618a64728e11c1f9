espo_gtest(test_engine_model LABEL unit TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_engine_model.cpp
  LIBS espo_driver)
