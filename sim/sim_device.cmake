# SimDevice: espo::driver::Device over the verilated espo kernel (both SaSlots variants).
# Included by sim/CMakeLists.txt after tops_engine.cmake.
add_library(espo_sim_device STATIC ${CMAKE_CURRENT_SOURCE_DIR}/src/sim_device.cpp)
target_include_directories(espo_sim_device PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(espo_sim_device
  PUBLIC espo_driver
  PRIVATE espo_vkernel_s64 espo_vkernel_s1024 espo_regmap espo_warnings)
