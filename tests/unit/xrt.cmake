# XrtDevice on XRT's no-op shim (libxrt_noop stands in for a card: device open, xclbin load and
# buffers work; register access fails). Only when XRT and its no-op shim are found.
# OpenDevice's routing is tested by compiling driver/factory/open_device.cpp in with only
# ESPO_HAVE_XRT: linking espo_devices would pull in the verilated kernels (espo_sim_device),
# minutes of build for a unit test that never runs the simulation.
if(TARGET espo_xrt_device AND TARGET XRT::noop)
  espo_gtest(test_xrt_device LABEL unit TIMEOUT 60
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_xrt_device.cpp
            ${CMAKE_SOURCE_DIR}/driver/factory/open_device.cpp
    LIBS espo_xrt_device XRT::noop GTest::gmock)
  add_dependencies(test_xrt_device espo_test_xclbin)
  target_compile_definitions(test_xrt_device PRIVATE
    ESPO_HAVE_XRT=1 ESPO_TEST_XCLBIN_DIR="${ESPO_TEST_XCLBIN_DIR}")
endif()
