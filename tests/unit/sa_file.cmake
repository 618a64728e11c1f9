# SA text syntax and pcap I/O unit tests (docs/SA_SYNTAX.md, ikectl/include/espo/ikectl/pcap_file.hpp).
espo_gtest(test_sa_file LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sa_file.cpp
  LIBS espo_driver)
espo_gtest(test_pcap_file LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_pcap_file.cpp
  LIBS espo_ikectl_lib)
