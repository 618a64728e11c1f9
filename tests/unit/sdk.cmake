# SDK unit tests (device-independent half): clock/RNG, KEYMAT, lifetime policies, checkpoints.
espo_gtest(sdk_clock_random_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_clock_random.cpp
  LIBS espo_sdk)
espo_gtest(sdk_keymat_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_keymat.cpp
  LIBS espo_sdk OpenSSL::Crypto)
espo_gtest(sdk_lifetime_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_lifetime.cpp
  LIBS espo_sdk)
espo_gtest(sdk_checkpoint_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_checkpoint.cpp
  LIBS espo_sdk nlohmann_json::nlohmann_json OpenSSL::Crypto)
espo_gtest(sdk_containers_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_containers.cpp
  LIBS espo_sdk)
