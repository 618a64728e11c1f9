# Engine operation rates through each backend (prints a table, --csv for CSV).
add_executable(bench_engine ${CMAKE_CURRENT_SOURCE_DIR}/bench_engine.cpp)
target_link_libraries(bench_engine PRIVATE espo_devices espo_driver espo_warnings)
