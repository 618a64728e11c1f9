# SDK SA management: SaManager, SoftwareEsp, RekeyScheduler, LoopbackIke, SA groups (over
# Engine + ModelDevice with small tables, FakeClock, seeded Rngs).
espo_gtest(sdk_manager_test LABEL unit TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_manager.cpp
  LIBS espo_sdk)
# SaManager::AdoptSa / UpdateLimits / FindBySpi: one-direction, caller-keyed SAs.
espo_gtest(sdk_adopt_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_adopt.cpp
  LIBS espo_sdk)
# SaManager::Snapshot / Restore: checkpoint, crash, restore with jump-ahead.
espo_gtest(sdk_manager_checkpoint_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_manager_checkpoint.cpp
  LIBS espo_sdk)
# RekeyScheduler: timeout, retries with backoff, late answers, hard expiry of unanswered rekeys.
espo_gtest(sdk_rekey_timeout_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_rekey_timeout.cpp
  LIBS espo_sdk)
# Byte (and mixed byte + packet) lifetimes through SaManager and RekeyScheduler.
espo_gtest(sdk_byte_lifetime_test LABEL unit TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_byte_lifetime.cpp
  LIBS espo_sdk)
espo_gtest(sdk_restore_resume_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdk_restore_resume.cpp
  LIBS espo_sdk)
