# Cosimulation: the same randomized workload on ModelDevice and SimDevice (the RTL under
# Verilator), compared packet for packet, counter for counter, event for event.
if(TARGET espo_sim_device)
  espo_gtest(test_cosim LABEL cosim TIMEOUT 600
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cosim.cpp ${CMAKE_CURRENT_LIST_DIR}/cosim_workload.cpp
    LIBS espo_devices espo_driver)
endif()
