# Fuzz targets (docs/FUZZING.md). Each target defines LLVMFuzzerTestOneInput.
#  - <target>: built with any compiler against standalone_main.cpp (seed corpus + seeded random
#    mutations, ~5 s); registered in ctest with label `unit`.
#  - <target>_libfuzzer: only with clang when -fsanitize=fuzzer links (Debian libclang-rt-14-dev);
#    coverage-guided, with ASan/UBSan; not in ctest.
set(ESPO_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(ESPO_FUZZ_SECONDS 5 CACHE STRING "Seconds each standalone fuzz target runs under ctest")

add_executable(fuzz_sa_line ${ESPO_FUZZ_DIR}/fuzz_sa_line.cpp ${ESPO_FUZZ_DIR}/standalone_main.cpp)
target_link_libraries(fuzz_sa_line PRIVATE espo_warnings espo_driver)
add_executable(fuzz_pcap ${ESPO_FUZZ_DIR}/fuzz_pcap.cpp ${ESPO_FUZZ_DIR}/standalone_main.cpp)
target_link_libraries(fuzz_pcap PRIVATE espo_warnings espo_ikectl_lib)

foreach(target fuzz_sa_line fuzz_pcap)
  add_test(NAME ${target}
           COMMAND ${target} --seconds=${ESPO_FUZZ_SECONDS} ${ESPO_FUZZ_DIR}/corpus/${target})
  set_tests_properties(${target} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()

if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS -fsanitize=fuzzer)
  check_cxx_source_compiles([[
    #include <cstddef>
    #include <cstdint>
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
  ]] ESPO_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  if(ESPO_HAVE_LIBFUZZER)
    # The code under test is compiled into each fuzzer so that it carries coverage instrumentation.
    set(fuzz_flags -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    add_executable(fuzz_sa_line_libfuzzer ${ESPO_FUZZ_DIR}/fuzz_sa_line.cpp
      ${CMAKE_SOURCE_DIR}/driver/src/sa_file.cpp ${CMAKE_SOURCE_DIR}/driver/src/sa_config.cpp
      ${CMAKE_SOURCE_DIR}/driver/src/bytes.cpp ${CMAKE_SOURCE_DIR}/driver/src/key_material.cpp
      ${CMAKE_SOURCE_DIR}/driver/src/result.cpp)
    target_include_directories(fuzz_sa_line_libfuzzer PRIVATE ${CMAKE_SOURCE_DIR}/driver/include)
    target_link_libraries(fuzz_sa_line_libfuzzer PRIVATE espo_warnings tl::expected OpenSSL::Crypto)
    add_executable(fuzz_pcap_libfuzzer ${ESPO_FUZZ_DIR}/fuzz_pcap.cpp
      ${CMAKE_SOURCE_DIR}/ikectl/src/pcap_file.cpp ${CMAKE_SOURCE_DIR}/driver/src/bytes.cpp
      ${CMAKE_SOURCE_DIR}/driver/src/result.cpp)
    target_include_directories(fuzz_pcap_libfuzzer PRIVATE ${CMAKE_SOURCE_DIR}/driver/include
                               ${CMAKE_SOURCE_DIR}/ikectl/include)
    target_link_libraries(fuzz_pcap_libfuzzer PRIVATE espo_warnings tl::expected PkgConfig::PCAP)
    foreach(target fuzz_sa_line_libfuzzer fuzz_pcap_libfuzzer)
      target_compile_options(${target} PRIVATE ${fuzz_flags})
      target_link_options(${target} PRIVATE ${fuzz_flags})
    endforeach()
  endif()
endif()
