# espo kernel (hw/rtl/espo_kernel.sv) through SimDevice: register file, SA commits, events, and
# the ESP datapath compared with ModelDevice and the software ESP. Included by tests/CMakeLists.txt.
espo_gtest(test_espo_kernel_regs LABEL rtl TIMEOUT 240
           SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rtl/test_espo_kernel_regs.cpp
           LIBS espo_sim_device espo_driver)
target_include_directories(test_espo_kernel_regs PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/rtl)
target_link_libraries(test_espo_kernel_regs PRIVATE espo_regmap)
espo_gtest(test_espo_kernel LABEL rtl TIMEOUT 300
           SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rtl/test_espo_kernel.cpp
           LIBS espo_sim_device espo_driver)
target_include_directories(test_espo_kernel PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/rtl)
espo_gtest(test_espo_kernel_pipe LABEL rtl TIMEOUT 300
           SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rtl/test_espo_kernel_pipe.cpp
           LIBS espo_sim_device espo_driver)
target_include_directories(test_espo_kernel_pipe PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/rtl)
