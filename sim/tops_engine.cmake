# The espo kernel (hw/rtl/espo_kernel.sv) verilated once per SaSlots variant that SimDevice offers:
# 64 (fast to reset, for tests) and 1024 (the default SA_SLOTS). Each variant has its own model
# prefix (Vespo_kernel_s<N>) so both link into one binary. Included by sim/CMakeLists.txt.
set(ESPO_KERNEL_SOURCES
    ${CMAKE_SOURCE_DIR}/hw/rtl/espo_reg_pkg.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/esp_pkg.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/aes_pkg.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/ghash_pkg.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/aes_round.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/aes_key_step.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/aes_pipeline.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/ghash_mul.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/gcm_core.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/axil_slave.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/espo_regs.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/sa_table.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/esp_engine.sv
    ${CMAKE_SOURCE_DIR}/hw/rtl/espo_kernel.sv)

foreach(slots 64 1024)
  set(target espo_vkernel_s${slots})
  add_library(${target} STATIC)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_compile_options(${target} PRIVATE -O2 -w)
  verilate(${target}
    TOP_MODULE espo_kernel
    PREFIX Vespo_kernel_s${slots}
    SOURCES ${ESPO_KERNEL_SOURCES}
    INCLUDE_DIRS "${CMAKE_SOURCE_DIR}/hw/rtl"
    TRACE_FST
    VERILATOR_ARGS ${ESPO_VERILATOR_FLAGS} -GSaSlots=${slots})
  get_target_property(inc ${target} INCLUDE_DIRECTORIES)
  target_include_directories(${target} SYSTEM INTERFACE ${inc})
endforeach()
