# SDK decisions per second on ModelDevice: SaManager install / rekey / remove and RekeyScheduler
# rekeys between two ends (prints a table, --csv for CSV, --quick for a short run).
add_executable(bench_sdk ${CMAKE_CURRENT_SOURCE_DIR}/bench_sdk.cpp)
target_link_libraries(bench_sdk PRIVATE espo_sdk espo_driver espo_warnings)
