# The SDK's make-before-break rekeys over the RTL (SimDevice) instead of the model.
if(TARGET espo_sim_device)
  espo_gtest(test_sdk_sim LABEL cosim TIMEOUT 600
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_sim.cpp
    LIBS espo_sdk espo_devices espo_driver)
  target_include_directories(test_sdk_sim PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
endif()
