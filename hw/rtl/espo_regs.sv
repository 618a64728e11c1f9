// SPDX-License-Identifier: Apache-2.0
//
// espo_regs: the AXI-Lite register file of docs/REGISTERS.md (offsets from espo_reg_pkg):
// constant ID/VERSION/HASH/CAP words, batch control, SA staging window (key and salt write-only:
// reads return 0), SA_COMMIT pulse and status, SA_READ_* snapshot, DROP and PKT_COUNT counters
// (free-running 32-bit), and the event FIFO (EventDepth entries; an event that finds it full is
// lost and counted in EVT_OVERFLOW, read-clear).
// Bus: wr_i/rd_i pulses from axil_slave; rd_data_o is combinational for rd_addr_i.
// Reset: synchronous; clears control state, counters, FIFO pointers and the staged key/salt.
module espo_regs
  import espo_reg_pkg::*;
  import esp_pkg::*;
#(
  parameter int unsigned SaSlots = 1024,
  parameter int unsigned ReplayBits = 1024,
  parameter int unsigned MaxPacket = 9600,
  parameter int unsigned EventDepth = 64
) (
  input  logic         clk_i,
  input  logic         rst_i,

  input  logic         wr_i,
  input  logic [11:0]  wr_addr_i,
  input  logic [31:0]  wr_data_i,
  input  logic         rd_i,
  input  logic [11:0]  rd_addr_i,
  output logic [31:0]  rd_data_o,

  // batch control
  output logic         start_o,
  input  logic         done_i,
  input  logic         idle_i,
  output logic [63:0]  in_addr_o,
  output logic [31:0]  in_count_o,
  output logic [63:0]  out_addr_o,
  output logic [31:0]  out_size_o,
  input  logic [31:0]  out_count_i,
  input  logic [31:0]  out_bytes_i,
  input  logic [31:0]  batch_status_i,

  // SA commit
  output logic         commit_o,
  output logic [31:0]  commit_word_o,
  output stage_t       stage_o,
  input  logic         commit_busy_i,
  input  logic [3:0]   commit_code_i,

  // snapshot
  output logic         snap_req_o,
  output logic         snap_dir_o,
  output logic [15:0]  snap_slot_o,
  input  logic [1:0]   snap_state_i,
  input  logic         snap_seq_ovf_i,
  input  logic [31:0]  snap_spi_i,
  input  logic [63:0]  snap_pkts_i,
  input  logic [63:0]  snap_bytes_i,
  input  logic [63:0]  snap_seq_i,

  // counters and events from the engine
  input  logic [4:0]   drop_inc_i,   // one-hot: auth, replay, no_sa, malformed, lifetime
  input  logic [1:0]   pkt_inc_i,    // out, in
  input  logic         evt_valid_i,
  input  evt_t         evt_i
);

  localparam int unsigned EvAw = $clog2(EventDepth);

  // ---- staging and batch registers -----------------------------------------------------------
  logic [31:0] in_lo_q, in_hi_q, in_cnt_q, out_lo_q, out_hi_q, out_sz_q;
  logic [31:0] sel_q;
  stage_t      st_q;
  logic [31:0] drop_q [5];
  logic [31:0] pkt_q [2];
  logic [31:0] evt_ovf_q;

  // event FIFO
  evt_t           evt_mem [EventDepth];
  logic [EvAw:0]  ev_wr_q, ev_rd_q, ev_used;
  logic           ev_full, ev_empty, ev_pop;
  evt_t           ev_head;

  assign ev_used  = ev_wr_q - ev_rd_q;
  assign ev_full  = (ev_used == (EvAw + 1)'(EventDepth));
  assign ev_empty = (ev_used == '0);
  assign ev_head  = evt_mem[ev_rd_q[EvAw-1:0]];
  assign ev_pop   = wr_i && (wr_addr_i == ESPO_EVT_POP_OFFSET) && !ev_empty;

  // Array index of a STAGE_LIMIT access (the array does not start on a 32-byte boundary).
  logic [11:0] lim_woff, lim_roff;
  logic [2:0]  lim_widx, lim_ridx;
  logic        unused_lim;
  assign lim_woff = wr_addr_i - ESPO_STAGE_LIMIT_OFFSET;
  assign lim_roff = rd_addr_i - ESPO_STAGE_LIMIT_OFFSET;
  assign lim_widx = lim_woff[4:2];
  assign lim_ridx = lim_roff[4:2];
  assign unused_lim = ^{lim_woff[11:5], lim_woff[1:0], lim_roff[11:5], lim_roff[1:0]};

  function automatic logic is_key_addr(input logic [11:0] a);
    return (a >= ESPO_STAGE_KEY_OFFSET) && (a < ESPO_STAGE_KEY_OFFSET + 12'h20);
  endfunction

  // Every SA commit, applied or refused, wipes the staged key and salt when it completes
  // (SA_COMMIT_STATUS.BUSY falls), so no key material lingers in the staging window
  // (docs/ENGINE_SEMANTICS.md). A held commit keeps them until it has run.
  logic commit_busy_q, stage_wipe;
  always_ff @(posedge clk_i) begin : commit_busy_reg
    if (rst_i) commit_busy_q <= 1'b0;
    else commit_busy_q <= commit_busy_i;
  end
  assign stage_wipe = commit_busy_q && !commit_busy_i;

  always_ff @(posedge clk_i) begin : regs_write
    if (rst_i) begin
      in_lo_q  <= '0;
      in_hi_q  <= '0;
      in_cnt_q <= '0;
      out_lo_q <= '0;
      out_hi_q <= '0;
      out_sz_q <= '0;
      sel_q    <= '0;
      st_q     <= '0;
    end else begin
      if (wr_i) begin
        unique case (wr_addr_i)
          ESPO_IN_ADDR_LO_OFFSET:        in_lo_q <= wr_data_i;
          ESPO_IN_ADDR_HI_OFFSET:        in_hi_q <= wr_data_i;
          ESPO_IN_COUNT_OFFSET:          in_cnt_q <= wr_data_i;
          ESPO_OUT_ADDR_LO_OFFSET:       out_lo_q <= wr_data_i;
          ESPO_OUT_ADDR_HI_OFFSET:       out_hi_q <= wr_data_i;
          ESPO_OUT_SIZE_OFFSET:          out_sz_q <= wr_data_i;
          ESPO_SA_READ_SEL_OFFSET:       sel_q <= wr_data_i;
          ESPO_STAGE_SPI_OFFSET:         st_q.spi <= wr_data_i;
          ESPO_STAGE_FLAGS_OFFSET:       st_q.flags <= wr_data_i;
          ESPO_STAGE_REPLAY_WINDOW_OFFSET: st_q.window <= wr_data_i;
          ESPO_STAGE_SALT_OFFSET:        st_q.salt <= wr_data_i;
          ESPO_STAGE_SEQ_LO_OFFSET:      st_q.seq[31:0] <= wr_data_i;
          ESPO_STAGE_SEQ_HI_OFFSET:      st_q.seq[63:32] <= wr_data_i;
          ESPO_STAGE_UDP_PORTS_OFFSET:   st_q.ports <= wr_data_i;
          default: begin
            if (is_key_addr(wr_addr_i)) begin
              // KEYi holds key bytes 4i..4i+3 big-endian; st_q.key is wire order (byte 0 = [7:0])
              for (int j = 0; j < 4; j++) begin
                st_q.key[32 * int'(wr_addr_i[4:2]) + 8 * j +: 8] <= wr_data_i[31 - 8 * j -: 8];
              end
            end
            if (wr_addr_i >= ESPO_STAGE_SRC_OFFSET && wr_addr_i < ESPO_STAGE_SRC_OFFSET + 12'h10) begin
              st_q.src[127 - 32 * int'(wr_addr_i[3:2]) -: 32] <= wr_data_i;
            end
            if (wr_addr_i >= ESPO_STAGE_DST_OFFSET && wr_addr_i < ESPO_STAGE_DST_OFFSET + 12'h10) begin
              st_q.dst[127 - 32 * int'(wr_addr_i[3:2]) -: 32] <= wr_data_i;
            end
            if (wr_addr_i >= ESPO_STAGE_LIMIT_OFFSET &&
                wr_addr_i < ESPO_STAGE_LIMIT_OFFSET + 12'h20) begin
              st_q.limits[32 * int'(lim_widx) +: 32] <= wr_data_i;
            end
          end
        endcase
      end
      if (stage_wipe) begin
        st_q.key  <= '0;
        st_q.salt <= '0;
      end
    end
  end

  assign start_o = wr_i && (wr_addr_i == ESPO_CTRL_OFFSET) && wr_data_i[ESPO_CTRL_START_LSB];
  assign commit_o = wr_i && (wr_addr_i == ESPO_SA_COMMIT_OFFSET);
  assign commit_word_o = wr_data_i;
  assign snap_req_o = wr_i && (wr_addr_i == ESPO_SA_READ_SEL_OFFSET);
  assign snap_dir_o = wr_data_i[31];
  assign snap_slot_o = wr_data_i[15:0];
  assign stage_o = st_q;
  assign in_addr_o = {in_hi_q, in_lo_q};
  assign in_count_o = in_cnt_q;
  assign out_addr_o = {out_hi_q, out_lo_q};
  assign out_size_o = out_sz_q;

  // ---- counters and event FIFO ---------------------------------------------------------------
  logic ovf_clear;
  assign ovf_clear = rd_i && (rd_addr_i == ESPO_EVT_OVERFLOW_OFFSET);

  always_ff @(posedge clk_i) begin : counters
    if (rst_i) begin
      for (int i = 0; i < 5; i++) drop_q[i] <= '0;
      pkt_q[0]  <= '0;
      pkt_q[1]  <= '0;
      evt_ovf_q <= '0;
      ev_wr_q   <= '0;
      ev_rd_q   <= '0;
    end else begin
      for (int i = 0; i < 5; i++) if (drop_inc_i[i]) drop_q[i] <= drop_q[i] + 32'd1;
      for (int i = 0; i < 2; i++) if (pkt_inc_i[i]) pkt_q[i] <= pkt_q[i] + 32'd1;
      if (evt_valid_i && !ev_full) ev_wr_q <= ev_wr_q + 1'b1;
      if (ev_pop) ev_rd_q <= ev_rd_q + 1'b1;
      if (ovf_clear) evt_ovf_q <= (evt_valid_i && ev_full) ? 32'd1 : 32'd0;
      else if (evt_valid_i && ev_full) evt_ovf_q <= evt_ovf_q + 32'd1;
    end
  end

  always_ff @(posedge clk_i) begin : evt_store
    if (evt_valid_i && !ev_full) evt_mem[ev_wr_q[EvAw-1:0]] <= evt_i;
  end

  // ---- read mux ----------------------------------------------------------------------------
  always_comb begin : read_mux
    rd_data_o = 32'h0;
    unique case (rd_addr_i)
      ESPO_ID_OFFSET:          rd_data_o = ESPO_ID_VALUE;
      ESPO_VERSION_OFFSET:     rd_data_o = {ESPO_VERSION_MAJOR, ESPO_VERSION_MINOR,
                                            ESPO_VERSION_PATCH};
      ESPO_REGMAP_HASH_OFFSET: rd_data_o = ESPO_REGMAP_HASH;
      ESPO_BUILD_ID_OFFSET:    rd_data_o = 32'h0;
      ESPO_CAP_SLOTS_OFFSET:   rd_data_o = {16'(SaSlots), 16'(SaSlots)};
      ESPO_CAP_DATAPATH_OFFSET: rd_data_o = {16'(ReplayBits), 8'd1, 8'd16};
      ESPO_CAP_FEATURES_OFFSET: rd_data_o = 32'h0000_0FFF;
      ESPO_CAP_LIMITS_OFFSET:  rd_data_o = {16'(EventDepth), 16'(MaxPacket)};
      ESPO_CTRL_OFFSET:        rd_data_o = {29'h0, idle_i, done_i, 1'b0};
      ESPO_IN_ADDR_LO_OFFSET:  rd_data_o = in_lo_q;
      ESPO_IN_ADDR_HI_OFFSET:  rd_data_o = in_hi_q;
      ESPO_IN_COUNT_OFFSET:    rd_data_o = in_cnt_q;
      ESPO_OUT_ADDR_LO_OFFSET: rd_data_o = out_lo_q;
      ESPO_OUT_ADDR_HI_OFFSET: rd_data_o = out_hi_q;
      ESPO_OUT_SIZE_OFFSET:    rd_data_o = out_sz_q;
      ESPO_OUT_COUNT_OFFSET:   rd_data_o = out_count_i;
      ESPO_OUT_BYTES_OFFSET:   rd_data_o = out_bytes_i;
      ESPO_BATCH_STATUS_OFFSET: rd_data_o = batch_status_i;
      ESPO_SA_COMMIT_STATUS_OFFSET: rd_data_o = {20'h0, commit_code_i, 7'h0, commit_busy_i};
      ESPO_STAGE_SPI_OFFSET:   rd_data_o = st_q.spi;
      ESPO_STAGE_FLAGS_OFFSET: rd_data_o = st_q.flags;
      ESPO_STAGE_REPLAY_WINDOW_OFFSET: rd_data_o = st_q.window;
      ESPO_STAGE_SEQ_LO_OFFSET: rd_data_o = st_q.seq[31:0];
      ESPO_STAGE_SEQ_HI_OFFSET: rd_data_o = st_q.seq[63:32];
      ESPO_STAGE_UDP_PORTS_OFFSET: rd_data_o = st_q.ports;
      ESPO_SA_READ_SEL_OFFSET: rd_data_o = sel_q;
      ESPO_SA_READ_STATE_OFFSET: rd_data_o = {29'h0, snap_seq_ovf_i, snap_state_i};
      ESPO_SA_READ_SPI_OFFSET: rd_data_o = snap_spi_i;
      ESPO_EVT_STATUS_OFFSET:  rd_data_o = {16'h0, 16'(ev_used)};
      ESPO_EVT_OVERFLOW_OFFSET: rd_data_o = evt_ovf_q;
      default: begin
        if (rd_addr_i >= ESPO_STAGE_SRC_OFFSET && rd_addr_i < ESPO_STAGE_SRC_OFFSET + 12'h10)
          rd_data_o = st_q.src[127 - 32 * int'(rd_addr_i[3:2]) -: 32];
        if (rd_addr_i >= ESPO_STAGE_DST_OFFSET && rd_addr_i < ESPO_STAGE_DST_OFFSET + 12'h10)
          rd_data_o = st_q.dst[127 - 32 * int'(rd_addr_i[3:2]) -: 32];
        if (rd_addr_i >= ESPO_STAGE_LIMIT_OFFSET && rd_addr_i < ESPO_STAGE_LIMIT_OFFSET + 12'h20)
          rd_data_o = st_q.limits[32 * int'(lim_ridx) +: 32];
        if (rd_addr_i >= ESPO_SA_READ_COUNTER_OFFSET &&
            rd_addr_i < ESPO_SA_READ_COUNTER_OFFSET + 12'h18) begin
          unique case (rd_addr_i - ESPO_SA_READ_COUNTER_OFFSET)
            12'h00: rd_data_o = snap_pkts_i[31:0];
            12'h04: rd_data_o = snap_pkts_i[63:32];
            12'h08: rd_data_o = snap_bytes_i[31:0];
            12'h0C: rd_data_o = snap_bytes_i[63:32];
            12'h10: rd_data_o = snap_seq_i[31:0];
            default: rd_data_o = snap_seq_i[63:32];
          endcase
        end
        if (rd_addr_i >= ESPO_DROP_OFFSET && rd_addr_i < ESPO_DROP_OFFSET + 12'h14)
          rd_data_o = drop_q[3'((rd_addr_i - ESPO_DROP_OFFSET) >> 2)];
        if (rd_addr_i == ESPO_PKT_COUNT_OFFSET) rd_data_o = pkt_q[0];
        if (rd_addr_i == ESPO_PKT_COUNT_OFFSET + 12'h4) rd_data_o = pkt_q[1];
        if (rd_addr_i >= ESPO_EVT_DATA_OFFSET && rd_addr_i < ESPO_EVT_DATA_OFFSET + 12'h18 &&
            !ev_empty) begin
          unique case (rd_addr_i - ESPO_EVT_DATA_OFFSET)
            12'h00: rd_data_o = {ev_head.slot, 11'h0, ev_head.dir, ev_head.kind};
            12'h04: rd_data_o = ev_head.spi;
            12'h08: rd_data_o = ev_head.pkts[31:0];
            12'h0C: rd_data_o = ev_head.pkts[63:32];
            12'h10: rd_data_o = ev_head.bytes[31:0];
            default: rd_data_o = ev_head.bytes[63:32];
          endcase
        end
      end
    endcase
  end

`ifndef SYNTHESIS
  initial begin : check_params
    if (EventDepth < 2 || (EventDepth & (EventDepth - 1)) != 0) begin
      $error("espo_regs: EventDepth must be a power of two >= 2");
      $finish;
    end
  end
`endif

endmodule
