# ikectl end to end: pcaps in temporary directories, python3-scapy, python3-cryptography and
# tshark as independent ESP implementations.
add_test(NAME e2e_ikectl_selftest COMMAND ikectl selftest --data ${ESPO_SHARED_DATA})
set_tests_properties(e2e_ikectl_selftest PROPERTIES LABELS e2e TIMEOUT 120)
foreach(device model sim)
  if(device STREQUAL "sim" AND NOT TARGET espo_sim_device)
    continue()
  endif()
  add_test(NAME e2e_process_${device}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_process.py
                   --ikectl $<TARGET_FILE:ikectl> --device ${device} -v)
  set_tests_properties(e2e_process_${device} PROPERTIES LABELS e2e TIMEOUT 600)
endforeach()
