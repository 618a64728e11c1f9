# espo kernel RTL throughput (engine bytes/cycle, 1 vs 1024 SAs) and full-design simulation speed
# through Engine over SimDevice (prints a table, --csv for CSV).
if(TARGET espo_sim_device)
  add_executable(bench_engine_rtl ${CMAKE_CURRENT_SOURCE_DIR}/bench_engine_rtl.cpp)
  target_link_libraries(bench_engine_rtl PRIVATE espo_devices espo_sim_device espo_driver
                                                 espo_warnings)
endif()
