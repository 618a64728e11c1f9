# AES-GCM core throughput and Verilator simulation speed (prints a table, --csv for CSV).
add_executable(bench_gcm_core ${CMAKE_CURRENT_SOURCE_DIR}/bench_gcm_core.cpp)
target_link_libraries(bench_gcm_core PRIVATE espo_sim_gcm espo_driver espo_warnings)
