# strongSwan interop (docs/STRONGSWAN.md): two charons (kernel-libipsec) in network namespaces
# negotiate AES-GCM CHILD_SAs; espo decrypts their ESP and strongSwan accepts espo's ESP.
# Needs root and the strongSwan packages of scripts/setup_debian.sh; exits 77 (SKIP) otherwise.
set(ESPO_STRONGSWAN_DEVICES --device model)
if(TARGET espo_sim_device)
  list(APPEND ESPO_STRONGSWAN_DEVICES --device sim)
endif()
add_test(NAME e2e_strongswan
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_strongswan.py
                 --ikectl $<TARGET_FILE:ikectl> ${ESPO_STRONGSWAN_DEVICES} -v)
set_tests_properties(e2e_strongswan PROPERTIES LABELS e2e TIMEOUT 600 SKIP_RETURN_CODE 77)
