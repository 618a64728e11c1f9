# OpenSSL GCM oracle (driver/gcm_reference) against the public vectors.
espo_gtest(test_gcm_reference LABEL unit TIMEOUT 60
           SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gcm_reference.cpp
           LIBS espo_driver)
