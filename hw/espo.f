// espo RTL filelist: packages first, then modules (one per file). Paths relative to the repo root.
// Append your files; keep packages above modules.
hw/rtl/espo_reg_pkg.sv
hw/rtl/esp_pkg.sv
hw/rtl/aes_pkg.sv
hw/rtl/ghash_pkg.sv
hw/rtl/aes_round.sv
hw/rtl/aes_key_step.sv
hw/rtl/aes_pipeline.sv
hw/rtl/ghash_mul.sv
hw/rtl/gcm_core.sv
hw/rtl/axil_slave.sv
hw/rtl/espo_regs.sv
hw/rtl/sa_table.sv
hw/rtl/esp_engine.sv
hw/rtl/espo_kernel.sv
