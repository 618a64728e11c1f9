// SPDX-License-Identifier: Apache-2.0
//
// espo_kernel: the XRT RTL kernel top of the espo ESP engine (user-managed kernel: started by
// CTRL.START in the register map, not by ap_ctrl). Vivado interface names are kept so the
// packager infers s_axi_control (AXI4-Lite, 4 KiB register map of docs/REGISTERS.md) and
// m_axi_gmem (AXI4 master, 64-bit addresses, 512-bit data, INCR bursts of 64-byte beats, one
// burst outstanding per direction; the usual Alveo RTL-kernel width). `!ap_rst_n` is registered once into `rst`; everything inside uses it.
//
//   s_axi_control -> axil_slave -> espo_regs (staging, counters, event FIFO)
//                                     |  commit            | batch regs, counters, events
//                                  sa_table  <-- SA port --> esp_engine --> m_axi_gmem
//                                     | hash_key ops          | packets
//                                     +------> gcm_core <------+   (engine owns it during a batch)
//
// Parameters: SaSlots slots per direction (power of two), ReplayBits (largest replay window),
// MaxPacket (largest packet, store-and-forward buffers), EventDepth (event FIFO entries).
module espo_kernel #(
  parameter int unsigned SaSlots = 1024,
  parameter int unsigned ReplayBits = 1024,
  parameter int unsigned MaxPacket = 9600,
  parameter int unsigned EventDepth = 64
) (
  input  logic         ap_clk,
  input  logic         ap_rst_n,

  input  logic [11:0]  s_axi_control_awaddr,
  input  logic         s_axi_control_awvalid,
  output logic         s_axi_control_awready,
  input  logic [31:0]  s_axi_control_wdata,
  input  logic [3:0]   s_axi_control_wstrb,
  input  logic         s_axi_control_wvalid,
  output logic         s_axi_control_wready,
  output logic [1:0]   s_axi_control_bresp,
  output logic         s_axi_control_bvalid,
  input  logic         s_axi_control_bready,
  input  logic [11:0]  s_axi_control_araddr,
  input  logic         s_axi_control_arvalid,
  output logic         s_axi_control_arready,
  output logic [31:0]  s_axi_control_rdata,
  output logic [1:0]   s_axi_control_rresp,
  output logic         s_axi_control_rvalid,
  input  logic         s_axi_control_rready,

  output logic [63:0]  m_axi_gmem_awaddr,
  output logic [7:0]   m_axi_gmem_awlen,
  output logic [2:0]   m_axi_gmem_awsize,
  output logic [1:0]   m_axi_gmem_awburst,
  output logic         m_axi_gmem_awvalid,
  input  logic         m_axi_gmem_awready,
  output logic [511:0] m_axi_gmem_wdata,
  output logic [63:0]  m_axi_gmem_wstrb,
  output logic         m_axi_gmem_wlast,
  output logic         m_axi_gmem_wvalid,
  input  logic         m_axi_gmem_wready,
  input  logic [1:0]   m_axi_gmem_bresp,
  input  logic         m_axi_gmem_bvalid,
  output logic         m_axi_gmem_bready,
  output logic [63:0]  m_axi_gmem_araddr,
  output logic [7:0]   m_axi_gmem_arlen,
  output logic [2:0]   m_axi_gmem_arsize,
  output logic [1:0]   m_axi_gmem_arburst,
  output logic         m_axi_gmem_arvalid,
  input  logic         m_axi_gmem_arready,
  input  logic [511:0] m_axi_gmem_rdata,
  input  logic [1:0]   m_axi_gmem_rresp,
  input  logic         m_axi_gmem_rlast,
  input  logic         m_axi_gmem_rvalid,
  output logic         m_axi_gmem_rready
);
  import esp_pkg::*;

  logic rst;
  always_ff @(posedge ap_clk) begin : reset_reg
    rst <= !ap_rst_n;
  end

  assign m_axi_gmem_awsize  = 3'd6;
  assign m_axi_gmem_awburst = 2'b01;
  assign m_axi_gmem_arsize  = 3'd6;
  assign m_axi_gmem_arburst = 2'b01;

  // ---- register bus --------------------------------------------------------------------------
  logic        bus_wr, bus_rd;
  logic [11:0] bus_waddr, bus_raddr;
  logic [31:0] bus_wdata, bus_rdata;

  axil_slave #(.AddrBits(12)) u_axil (
    .clk_i(ap_clk), .rst_i(rst),
    .s_axil_awaddr_i(s_axi_control_awaddr), .s_axil_awvalid_i(s_axi_control_awvalid),
    .s_axil_awready_o(s_axi_control_awready),
    .s_axil_wdata_i(s_axi_control_wdata), .s_axil_wstrb_i(s_axi_control_wstrb),
    .s_axil_wvalid_i(s_axi_control_wvalid), .s_axil_wready_o(s_axi_control_wready),
    .s_axil_bresp_o(s_axi_control_bresp), .s_axil_bvalid_o(s_axi_control_bvalid),
    .s_axil_bready_i(s_axi_control_bready),
    .s_axil_araddr_i(s_axi_control_araddr), .s_axil_arvalid_i(s_axi_control_arvalid),
    .s_axil_arready_o(s_axi_control_arready),
    .s_axil_rdata_o(s_axi_control_rdata), .s_axil_rresp_o(s_axi_control_rresp),
    .s_axil_rvalid_o(s_axi_control_rvalid), .s_axil_rready_i(s_axi_control_rready),
    .wr_o(bus_wr), .wr_addr_o(bus_waddr), .wr_data_o(bus_wdata),
    .rd_o(bus_rd), .rd_addr_o(bus_raddr), .rd_data_i(bus_rdata)
  );

  // ---- register file -----------------------------------------------------------------------
  logic        start, done, idle, eng_busy;
  logic [63:0] in_addr, out_addr;
  logic [31:0] in_count, out_size, out_count, out_bytes, batch_status;
  logic        commit;
  logic [31:0] commit_word;
  stage_t      stage;
  logic        commit_busy;
  logic [3:0]  commit_code;
  logic        snap_req, snap_dir;
  logic [15:0] snap_slot;
  logic [1:0]  snap_state;
  logic        snap_seq_ovf;
  logic [31:0] snap_spi;
  logic [63:0] snap_pkts, snap_bytes, snap_seq;
  logic [4:0]  drop_inc;
  logic [1:0]  pkt_inc;
  logic        evt_valid;
  evt_t        evt;

  espo_regs #(
    .SaSlots(SaSlots), .ReplayBits(ReplayBits), .MaxPacket(MaxPacket), .EventDepth(EventDepth)
  ) u_regs (
    .clk_i(ap_clk), .rst_i(rst),
    .wr_i(bus_wr), .wr_addr_i(bus_waddr), .wr_data_i(bus_wdata),
    .rd_i(bus_rd), .rd_addr_i(bus_raddr), .rd_data_o(bus_rdata),
    .start_o(start), .done_i(done), .idle_i(idle),
    .in_addr_o(in_addr), .in_count_o(in_count), .out_addr_o(out_addr), .out_size_o(out_size),
    .out_count_i(out_count), .out_bytes_i(out_bytes), .batch_status_i(batch_status),
    .commit_o(commit), .commit_word_o(commit_word), .stage_o(stage),
    .commit_busy_i(commit_busy), .commit_code_i(commit_code),
    .snap_req_o(snap_req), .snap_dir_o(snap_dir), .snap_slot_o(snap_slot),
    .snap_state_i(snap_state), .snap_seq_ovf_i(snap_seq_ovf), .snap_spi_i(snap_spi),
    .snap_pkts_i(snap_pkts), .snap_bytes_i(snap_bytes), .snap_seq_i(snap_seq),
    .drop_inc_i(drop_inc), .pkt_inc_i(pkt_inc), .evt_valid_i(evt_valid), .evt_i(evt)
  );

  // ---- SA table ------------------------------------------------------------------------------
  logic                  hk_valid, hk_tag_ready, hk_aes256;
  logic [255:0]          hk_key;
  logic                  sa_rd, sa_dir, sa_we, sa_wdir;
  logic [15:0]           sa_slot, sa_wslot;
  sa_t                   sa_rdata, sa_wdata;
  logic [ReplayBits-1:0] bm_rdata, bm_wdata;

  // gcm_core ports
  logic         g_cmd_valid, g_cmd_ready, g_aes256, g_decrypt, g_hash;
  logic [255:0] g_key;
  logic [95:0]  g_iv;
  logic [127:0] g_hkey, g_exp;
  logic [15:0]  g_aad_len, g_text_len;
  logic [4:0]   g_tag_len;
  logic [127:0] g_in_data, g_out_data, g_tag;
  logic [15:0]  g_in_keep, g_out_keep;
  logic         g_in_last, g_in_valid, g_in_ready;
  logic         g_out_last, g_out_valid, g_out_ready;
  logic         g_tag_ok, g_tag_valid, g_tag_ready;

  // engine side of gcm
  logic         e_cmd_valid, e_aes256, e_decrypt, e_tag_ready;
  logic [255:0] e_key;
  logic [95:0]  e_iv;
  logic [127:0] e_hkey, e_exp;
  logic [15:0]  e_aad_len, e_text_len;
  logic [4:0]   e_tag_len;

  sa_table #(.SaSlots(SaSlots), .ReplayBits(ReplayBits)) u_sa (
    .clk_i(ap_clk), .rst_i(rst),
    .commit_valid_i(commit), .commit_word_i(commit_word), .stage_i(stage),
    .busy_o(commit_busy), .code_o(commit_code), .eng_busy_i(eng_busy),
    .hk_valid_o(hk_valid), .hk_ready_i(g_cmd_ready && !eng_busy), .hk_key_o(hk_key),
    .hk_aes256_o(hk_aes256),
    .hk_tag_valid_i(g_tag_valid && !eng_busy), .hk_tag_i(g_tag), .hk_tag_ready_o(hk_tag_ready),
    .eng_rd_i(sa_rd), .eng_dir_i(sa_dir), .eng_slot_i(sa_slot), .eng_sa_o(sa_rdata),
    .eng_bm_o(bm_rdata), .eng_we_i(sa_we), .eng_wdir_i(sa_wdir), .eng_wslot_i(sa_wslot),
    .eng_wsa_i(sa_wdata), .eng_wbm_i(bm_wdata),
    .snap_req_i(snap_req), .snap_dir_i(snap_dir), .snap_slot_i(snap_slot),
    .snap_state_o(snap_state), .snap_seq_ovf_o(snap_seq_ovf), .snap_spi_o(snap_spi),
    .snap_pkts_o(snap_pkts), .snap_bytes_o(snap_bytes), .snap_seq_o(snap_seq)
  );

  // ---- engine --------------------------------------------------------------------------------
  esp_engine #(.SaSlots(SaSlots), .ReplayBits(ReplayBits), .MaxPacket(MaxPacket)) u_engine (
    .clk_i(ap_clk), .rst_i(rst),
    .start_i(start), .done_o(done), .idle_o(idle), .busy_o(eng_busy), .sa_busy_i(commit_busy),
    .in_addr_i(in_addr), .in_count_i(in_count), .out_addr_i(out_addr), .out_size_i(out_size),
    .out_count_o(out_count), .out_bytes_o(out_bytes), .batch_status_o(batch_status),
    .sa_rd_o(sa_rd), .sa_dir_o(sa_dir), .sa_slot_o(sa_slot), .sa_i(sa_rdata), .bm_i(bm_rdata),
    .sa_we_o(sa_we), .sa_wdir_o(sa_wdir), .sa_wslot_o(sa_wslot), .sa_wsa_o(sa_wdata),
    .sa_wbm_o(bm_wdata),
    .drop_inc_o(drop_inc), .pkt_inc_o(pkt_inc), .evt_valid_o(evt_valid), .evt_o(evt),
    .gcm_cmd_valid_o(e_cmd_valid), .gcm_cmd_ready_i(g_cmd_ready && eng_busy),
    .gcm_cmd_key_o(e_key), .gcm_cmd_aes256_o(e_aes256), .gcm_cmd_iv_o(e_iv),
    .gcm_cmd_hkey_o(e_hkey), .gcm_cmd_decrypt_o(e_decrypt), .gcm_cmd_aad_len_o(e_aad_len),
    .gcm_cmd_text_len_o(e_text_len), .gcm_cmd_tag_len_o(e_tag_len),
    .gcm_cmd_expected_tag_o(e_exp),
    .gcm_in_tdata_o(g_in_data), .gcm_in_tkeep_o(g_in_keep), .gcm_in_tlast_o(g_in_last),
    .gcm_in_tvalid_o(g_in_valid), .gcm_in_tready_i(g_in_ready),
    .gcm_out_tdata_i(g_out_data), .gcm_out_tkeep_i(g_out_keep), .gcm_out_tlast_i(g_out_last),
    .gcm_out_tvalid_i(g_out_valid), .gcm_out_tready_o(g_out_ready),
    .gcm_tag_i(g_tag), .gcm_tag_ok_i(g_tag_ok), .gcm_tag_valid_i(g_tag_valid && eng_busy),
    .gcm_tag_ready_o(e_tag_ready),
    .m_axi_araddr_o(m_axi_gmem_araddr), .m_axi_arlen_o(m_axi_gmem_arlen),
    .m_axi_arvalid_o(m_axi_gmem_arvalid), .m_axi_arready_i(m_axi_gmem_arready),
    .m_axi_rdata_i(m_axi_gmem_rdata), .m_axi_rresp_i(m_axi_gmem_rresp),
    .m_axi_rlast_i(m_axi_gmem_rlast), .m_axi_rvalid_i(m_axi_gmem_rvalid),
    .m_axi_rready_o(m_axi_gmem_rready),
    .m_axi_awaddr_o(m_axi_gmem_awaddr), .m_axi_awlen_o(m_axi_gmem_awlen),
    .m_axi_awvalid_o(m_axi_gmem_awvalid), .m_axi_awready_i(m_axi_gmem_awready),
    .m_axi_wdata_o(m_axi_gmem_wdata), .m_axi_wstrb_o(m_axi_gmem_wstrb),
    .m_axi_wlast_o(m_axi_gmem_wlast), .m_axi_wvalid_o(m_axi_gmem_wvalid),
    .m_axi_wready_i(m_axi_gmem_wready),
    .m_axi_bresp_i(m_axi_gmem_bresp), .m_axi_bvalid_i(m_axi_gmem_bvalid),
    .m_axi_bready_o(m_axi_gmem_bready)
  );

  // ---- gcm_core: owned by the engine during a batch, by sa_table (hash_key) otherwise -------
  always_comb begin : gcm_mux
    if (eng_busy) begin
      g_cmd_valid = e_cmd_valid;
      g_key       = e_key;
      g_aes256    = e_aes256;
      g_iv        = e_iv;
      g_hkey      = e_hkey;
      g_decrypt   = e_decrypt;
      g_hash      = 1'b0;
      g_aad_len   = e_aad_len;
      g_text_len  = e_text_len;
      g_tag_len   = e_tag_len;
      g_exp       = e_exp;
      g_tag_ready = e_tag_ready;
    end else begin
      g_cmd_valid = hk_valid;
      g_key       = hk_key;
      g_aes256    = hk_aes256;
      g_iv        = '0;
      g_hkey      = '0;
      g_decrypt   = 1'b0;
      g_hash      = 1'b1;
      g_aad_len   = '0;
      g_text_len  = '0;
      g_tag_len   = 5'd16;
      g_exp       = '0;
      g_tag_ready = hk_tag_ready;
    end
  end

  gcm_core u_gcm (
    .clk_i(ap_clk), .rst_i(rst),
    .s_cmd_valid_i(g_cmd_valid), .s_cmd_ready_o(g_cmd_ready), .s_cmd_key_i(g_key),
    .s_cmd_aes256_i(g_aes256), .s_cmd_iv_i(g_iv), .s_cmd_hkey_i(g_hkey),
    .s_cmd_decrypt_i(g_decrypt), .s_cmd_hash_key_i(g_hash), .s_cmd_aad_len_i(g_aad_len),
    .s_cmd_text_len_i(g_text_len), .s_cmd_tag_len_i(g_tag_len),
    .s_cmd_expected_tag_i(g_exp),
    .s_axis_tdata_i(g_in_data), .s_axis_tkeep_i(g_in_keep), .s_axis_tlast_i(g_in_last),
    .s_axis_tvalid_i(g_in_valid), .s_axis_tready_o(g_in_ready),
    .m_axis_tdata_o(g_out_data), .m_axis_tkeep_o(g_out_keep), .m_axis_tlast_o(g_out_last),
    .m_axis_tvalid_o(g_out_valid), .m_axis_tready_i(g_out_ready),
    .m_tag_tag_o(g_tag), .m_tag_ok_o(g_tag_ok), .m_tag_valid_o(g_tag_valid),
    .m_tag_ready_i(g_tag_ready)
  );

endmodule
