# `ikectl demo` (the README's main job) end to end: the JSON summary must show zero lost,
# reordered, corrupted and reused packets, zero lost SAs, soft events and completed rekeys.
# Model with 50 SAs (fast; also with --tie), the RTL (SimDevice, 64 slots) with small numbers, and the model with
# --pcap/--wireshark decrypted by tshark (SKIP when tshark is missing).
add_test(NAME e2e_demo_model
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_demo.py
                 --ikectl $<TARGET_FILE:ikectl> -- --device model --sas 50)
set_tests_properties(e2e_demo_model PROPERTIES LABELS e2e TIMEOUT 300)
# --tie: both gateways rekey at X_i, so rekeys cross; collisions must cost nothing either.
add_test(NAME e2e_demo_model_tie
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_demo.py
                 --ikectl $<TARGET_FILE:ikectl> --collisions -- --device model --sas 50 --tie)
set_tests_properties(e2e_demo_model_tie PROPERTIES LABELS e2e TIMEOUT 300)
if(TARGET espo_sim_device)
  add_test(NAME e2e_demo_sim
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_demo.py
                   --ikectl $<TARGET_FILE:ikectl> -- --device sim --slots 64 --sas 12
                   --headroom 8)
  set_tests_properties(e2e_demo_sim PROPERTIES LABELS e2e TIMEOUT 600)
endif()
add_test(NAME e2e_demo_wireshark
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_demo.py
                 --ikectl $<TARGET_FILE:ikectl> --tshark -- --device model --sas 20)
set_tests_properties(e2e_demo_wireshark PROPERTIES LABELS e2e TIMEOUT 300 SKIP_RETURN_CODE 77)
