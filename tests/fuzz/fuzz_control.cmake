# Fuzz target for the daemon's control messages (tests/fuzz/fuzz_control.cpp, docs/FUZZING.md
# pattern): standalone driver under ctest (label unit), seed corpus in corpus/fuzz_control.
set(ESPO_FUZZ_CONTROL_DIR ${CMAKE_CURRENT_LIST_DIR})
if(NOT DEFINED ESPO_FUZZ_SECONDS)
  set(ESPO_FUZZ_SECONDS 5)
endif()
add_executable(fuzz_control ${ESPO_FUZZ_CONTROL_DIR}/fuzz_control.cpp
               ${ESPO_FUZZ_CONTROL_DIR}/standalone_main.cpp)
target_link_libraries(fuzz_control PRIVATE espo_warnings espo_ikectl_lib)
add_test(NAME fuzz_control
         COMMAND fuzz_control --seconds=${ESPO_FUZZ_SECONDS} ${ESPO_FUZZ_CONTROL_DIR}/corpus/fuzz_control)
set_tests_properties(fuzz_control PROPERTIES LABELS unit TIMEOUT 60)
