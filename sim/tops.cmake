# RTL tops verilated for the project (each once). Included by sim/CMakeLists.txt.
# Append your tops; keep one espo_verilate() per top.

# ---- AES-GCM core (hw/rtl/gcm_core.sv and its blocks) ----------------------------------------
set(ESPO_AES_SOURCES
    ${CMAKE_SOURCE_DIR}/hw/rtl/aes_pkg.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/aes_round.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/aes_key_step.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/aes_pipeline.sv)
espo_verilate(espo_vaes_pipeline TOP aes_pipeline SOURCES ${ESPO_AES_SOURCES}
              ARGS -GSideBits=16)
set(ESPO_GHASH_SOURCES
    ${CMAKE_SOURCE_DIR}/hw/rtl/ghash_pkg.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/ghash_mul.sv)
espo_verilate(espo_vghash_mul TOP ghash_mul SOURCES ${ESPO_GHASH_SOURCES})
espo_verilate(espo_vgcm_core TOP gcm_core
              SOURCES ${ESPO_AES_SOURCES}
                      ${ESPO_GHASH_SOURCES}
                      ${CMAKE_SOURCE_DIR}/hw/rtl/gcm_core.sv)

# GcmCoreSim: pimpl wrapper around the verilated gcm_core (no Verilator type in its header).
add_library(espo_sim_gcm STATIC ${CMAKE_CURRENT_SOURCE_DIR}/src/gcm_core_sim.cpp)
target_include_directories(espo_sim_gcm PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(espo_sim_gcm
  PUBLIC espo_driver
  PRIVATE espo_vgcm_core espo_sim_testing espo_warnings)
