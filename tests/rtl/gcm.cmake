# AES-GCM core: per-block tests (aes_pipeline, ghash_mul) and the core through GcmCoreSim.
# Included by tests/CMakeLists.txt (espo_gtest, espo_test_common).
espo_gtest(test_aes_pipeline LABEL rtl TIMEOUT 120
           SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rtl/test_aes_pipeline.cpp
           LIBS espo_vaes_pipeline espo_sim_testing espo_driver)
espo_gtest(test_ghash_mul LABEL rtl TIMEOUT 120
           SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rtl/test_ghash_mul.cpp
           LIBS espo_vghash_mul espo_sim_testing)
espo_gtest(test_gcm_core LABEL rtl TIMEOUT 240
           SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rtl/test_gcm_core.cpp
           LIBS espo_sim_gcm espo_driver)
