# ESP processing (driver/esp, replay_window, ip_packet): unit tests and the scapy oracle.
espo_gtest(test_replay_window LABEL unit TIMEOUT 120
           SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_replay_window.cpp
           LIBS espo_driver)
espo_gtest(test_key_material LABEL unit TIMEOUT 60
           SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_key_material.cpp
           LIBS espo_driver)
espo_gtest(test_ip_packet LABEL unit TIMEOUT 120
           SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ip_packet.cpp
           LIBS espo_driver)
espo_gtest(test_esp LABEL unit TIMEOUT 120
           SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_esp.cpp
                   ${CMAKE_CURRENT_LIST_DIR}/test_esp_negative.cpp
           LIBS espo_driver nlohmann_json::nlohmann_json)

# Independent oracle: the C++ tool writes packets, scapy (Debian python3-scapy) decrypts them and
# writes its own, the tool decapsulates those. Any disagreement fails the test.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/esp_scapy_oracle.py)
add_executable(esp_oracle_tool ${CMAKE_CURRENT_LIST_DIR}/esp_oracle_tool.cpp)
target_link_libraries(esp_oracle_tool PRIVATE espo_warnings espo_driver
                      nlohmann_json::nlohmann_json)
target_include_directories(esp_oracle_tool PRIVATE ${CMAKE_CURRENT_LIST_DIR})
add_test(NAME esp_scapy_oracle
         COMMAND ${CMAKE_COMMAND}
                 -DTOOL=$<TARGET_FILE:esp_oracle_tool>
                 -DSCRIPT=${CMAKE_CURRENT_LIST_DIR}/esp_scapy_oracle.py
                 -DWORKDIR=${CMAKE_CURRENT_BINARY_DIR}/esp_scapy_oracle
                 -P ${CMAKE_CURRENT_LIST_DIR}/esp_scapy_oracle.cmake)
set_tests_properties(esp_scapy_oracle PROPERTIES LABELS unit TIMEOUT 120)
endif()
