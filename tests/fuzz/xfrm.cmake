# Fuzz target for the XFRM bridge's netlink parser (docs/XFRM_BRIDGE.md); pattern of fuzz.cmake:
# standalone driver under ctest (label unit), libFuzzer build with clang when available.
set(ESPO_XFRM_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
add_executable(fuzz_xfrm_msg ${ESPO_XFRM_FUZZ_DIR}/fuzz_xfrm_msg.cpp
               ${ESPO_XFRM_FUZZ_DIR}/standalone_main.cpp)
target_link_libraries(fuzz_xfrm_msg PRIVATE espo_warnings espo_ikectl_lib)
add_test(NAME fuzz_xfrm_msg
         COMMAND fuzz_xfrm_msg --seconds=${ESPO_FUZZ_SECONDS} ${ESPO_XFRM_FUZZ_DIR}/corpus/fuzz_xfrm_msg)
set_tests_properties(fuzz_xfrm_msg PROPERTIES LABELS unit TIMEOUT 60)
if(ESPO_HAVE_LIBFUZZER)
  add_executable(fuzz_xfrm_msg_libfuzzer ${ESPO_XFRM_FUZZ_DIR}/fuzz_xfrm_msg.cpp
    ${CMAKE_SOURCE_DIR}/ikectl/src/xfrm_bridge.cpp ${CMAKE_SOURCE_DIR}/driver/src/sa_file.cpp
    ${CMAKE_SOURCE_DIR}/driver/src/sa_config.cpp ${CMAKE_SOURCE_DIR}/driver/src/bytes.cpp
    ${CMAKE_SOURCE_DIR}/driver/src/key_material.cpp ${CMAKE_SOURCE_DIR}/driver/src/result.cpp)
  target_include_directories(fuzz_xfrm_msg_libfuzzer PRIVATE ${CMAKE_SOURCE_DIR}/driver/include
                             ${CMAKE_SOURCE_DIR}/ikectl/include)
  target_link_libraries(fuzz_xfrm_msg_libfuzzer PRIVATE espo_warnings tl::expected OpenSSL::Crypto
                        PkgConfig::LIBNL)
  target_compile_options(fuzz_xfrm_msg_libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined
                         -fno-omit-frame-pointer)
  target_link_options(fuzz_xfrm_msg_libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
endif()
