// SPDX-License-Identifier: Apache-2.0
//
// sa_table: the outbound and inbound SA tables (SaSlots slots each, esp_pkg::sa_t per slot, plus
// a ReplayBits replay bitmap per inbound slot) and the SA_COMMIT state machine
// (docs/ENGINE_SEMANTICS.md "SA table"): INSTALL / REMOVE / SET_LIMITS, all-or-nothing, with the
// status codes of SA_COMMIT_STATUS.CODE. INSTALL computes H = E_K(0^128) with one gcm_core
// hash_key op (hk_* ports) and stores it with the slot.
//
// Ports: the engine reads a slot (eng_rd_i; data valid on eng_sa_o/eng_bm_o after the next edge)
// and writes it back whole (eng_we_i). Commits are applied only while eng_busy_i is low (between
// batches): a commit written during a batch is held (BUSY stays high) and runs after it.
// snap_* is the SA_READ_SEL snapshot port: state, SPI, counters and sequence only (no key path).
//
// Check order of a commit: BAD_SLOT (slot >= SaSlots), BAD_OP (op not 1..3), then per op:
// INSTALL: SLOT_BUSY (slot not FREE), BAD_PARAM; REMOVE: SLOT_FREE; SET_LIMITS: SLOT_FREE,
// BAD_PARAM (soft >= hard where both are set, as at INSTALL).
// Reset: synchronous; after reset every slot is swept to all-zero (FREE, no key), one slot per
// cycle (SaSlots cycles, BUSY high meanwhile). Keys have no read path out of this module other
// than eng_sa_o (to the engine that feeds gcm_core).
module sa_table
  import esp_pkg::*;
#(
  parameter int unsigned SaSlots = 1024,
  parameter int unsigned ReplayBits = 1024
) (
  input  logic                  clk_i,
  input  logic                  rst_i,

  // SA_COMMIT (pulse) with the staging window
  input  logic                  commit_valid_i,
  input  logic [31:0]           commit_word_i,
  input  stage_t                stage_i,
  output logic                  busy_o,
  output logic [3:0]            code_o,

  input  logic                  eng_busy_i,

  // gcm_core hash_key requests and their tags
  output logic                  hk_valid_o,
  input  logic                  hk_ready_i,
  output logic [255:0]          hk_key_o,
  output logic                  hk_aes256_o,
  input  logic                  hk_tag_valid_i,
  input  logic [127:0]          hk_tag_i,
  output logic                  hk_tag_ready_o,

  // Engine port
  input  logic                  eng_rd_i,
  input  logic                  eng_dir_i,
  input  logic [15:0]           eng_slot_i,
  output sa_t                   eng_sa_o,
  output logic [ReplayBits-1:0] eng_bm_o,
  input  logic                  eng_we_i,
  input  logic                  eng_wdir_i,
  input  logic [15:0]           eng_wslot_i,
  input  sa_t                   eng_wsa_i,
  input  logic [ReplayBits-1:0] eng_wbm_i,

  // Snapshot port (SA_READ_SEL)
  input  logic                  snap_req_i,
  input  logic                  snap_dir_i,
  input  logic [15:0]           snap_slot_i,
  output logic [1:0]            snap_state_o,
  output logic                  snap_seq_ovf_o,
  output logic [31:0]           snap_spi_o,
  output logic [63:0]           snap_pkts_o,
  output logic [63:0]           snap_bytes_o,
  output logic [63:0]           snap_seq_o
);

  localparam int unsigned SlotBits = $clog2(SaSlots);

  typedef enum logic [2:0] {
    CSweep,
    CIdle,
    CRead,
    CCheck,
    CHash,
    CWaitTag,
    CWrite
  } cstate_e;

  sa_t                   out_mem [SaSlots];
  sa_t                   in_mem  [SaSlots];
  logic [ReplayBits-1:0] bm_mem  [SaSlots];

  cstate_e        cst_q, cst_d;
  logic [SlotBits-1:0] sweep_q, sweep_d;
  logic           pend_q, pend_d;
  logic [31:0]    cword_q, cword_d;
  logic [3:0]     code_q, code_d;
  sa_t            cur_q;                 // registered read of the commit slot
  sa_t            new_q, new_d;          // entry to write
  logic [ReplayBits-1:0] new_bm_q, new_bm_d;
  logic           wr_bm_q, wr_bm_d;

  logic [15:0] c_slot;
  logic [2:0]  c_op;
  logic        c_dir;
  assign c_slot = cword_q[15:0];
  assign c_op   = cword_q[18:16];
  assign c_dir  = cword_q[31];

  // ---- staged parameters as an INSTALL would store them --------------------------------------
  sa_t         staged;
  logic        bad_param;
  logic [15:0] win;
  logic        win_pow2;
  logic [3:0]  icv;
  logic        esn;
  logic [63:0] soft_p, hard_p, soft_b, hard_b;

  assign esn    = stage_i.flags[0];
  assign icv    = stage_i.flags[11:8];
  assign win    = stage_i.window[15:0];
  assign soft_p = stage_i.limits[63:0];
  assign hard_p = stage_i.limits[127:64];
  assign soft_b = stage_i.limits[191:128];
  assign hard_b = stage_i.limits[255:192];
  assign win_pow2 = (win != 16'h0) && ((win & (win - 16'd1)) == 16'h0);

  logic bad_limits;
  assign bad_limits = (soft_p != 64'h0 && hard_p != 64'h0 && soft_p >= hard_p) ||
                      (soft_b != 64'h0 && hard_b != 64'h0 && soft_b >= hard_b);

  always_comb begin : param_check
    bad_param = 1'b0;
    if (stage_i.spi == 32'h0) bad_param = 1'b1;
    if (!(icv == 4'd2 || icv == 4'd3 || icv == 4'd4)) bad_param = 1'b1;
    if (stage_i.flags[1] && icv != 4'd4) bad_param = 1'b1;  // GMAC: ICV 16 only
    if (soft_p != 64'h0 && hard_p != 64'h0 && soft_p >= hard_p) bad_param = 1'b1;
    if (soft_b != 64'h0 && hard_b != 64'h0 && soft_b >= hard_b) bad_param = 1'b1;
    // replay window rules apply to every SA (as driver Validate does); only inbound uses it
    if (stage_i.window[31:16] != 16'h0) bad_param = 1'b1;
    if (!(win == 16'h0 || (win_pow2 && {16'h0, win} <= 32'(ReplayBits)))) bad_param = 1'b1;
    if (win == 16'h0 && esn) bad_param = 1'b1;
    if (c_dir) begin
      // inbound: right edge, SPI low bits = slot
      if (!esn && stage_i.seq[63:32] != 32'h0) bad_param = 1'b1;
      if ((stage_i.spi & 32'(SaSlots - 1)) != {16'h0, c_slot}) bad_param = 1'b1;
    end else begin
      if (!esn && stage_i.seq >= 64'h0000_0000_FFFF_FFFF) bad_param = 1'b1;
    end
  end

  always_comb begin : build_staged
    staged = '0;
    staged.state     = SaActive;
    staged.spi       = stage_i.spi;
    staged.esn       = esn;
    staged.gmac      = stage_i.flags[1];
    staged.transport = stage_i.flags[2];
    staged.key256    = stage_i.flags[3];
    staged.udp       = stage_i.flags[4];
    staged.ipv6      = stage_i.flags[5];
    staged.icv_words = icv;
    staged.window    = c_dir ? win : 16'h0;
    staged.key       = stage_i.flags[3] ? stage_i.key : {128'h0, stage_i.key[127:0]};
    staged.salt      = stage_i.salt;
    staged.seq       = stage_i.seq;
    staged.src       = stage_i.src;
    staged.dst       = stage_i.dst;
    staged.sport     = stage_i.ports[15:0];
    staged.dport     = stage_i.ports[31:16];
    staged.soft_pkts = soft_p;
    staged.hard_pkts = hard_p;
    staged.soft_bytes = soft_b;
    staged.hard_bytes = hard_b;
  end

  // Inbound bitmap at INSTALL: right edge 0 = empty; otherwise every number of the window is
  // marked seen (fail closed, as driver ReplayWindow::Create).
  logic [ReplayBits-1:0] install_bm;
  always_comb begin : install_bitmap
    for (int i = 0; i < int'(ReplayBits); i++) install_bm[i] = (i < int'(win));
    if (stage_i.seq == 64'h0) install_bm = '0;
  end

  // ---- commit state machine -----------------------------------------------------------------
  always_comb begin : commit_fsm
    cst_d    = cst_q;
    sweep_d  = sweep_q;
    pend_d   = pend_q;
    cword_d  = cword_q;
    code_d   = code_q;
    new_d    = new_q;
    new_bm_d = new_bm_q;
    wr_bm_d  = wr_bm_q;
    hk_valid_o     = 1'b0;
    hk_tag_ready_o = 1'b0;
    if (commit_valid_i) begin
      pend_d  = 1'b1;
      cword_d = commit_word_i;
    end
    unique case (cst_q)
      CSweep: begin
        sweep_d = sweep_q + 1'b1;
        if (sweep_q == SlotBits'(SaSlots - 1)) cst_d = CIdle;
      end
      CIdle: begin
        if (pend_q && !eng_busy_i) begin
          pend_d = 1'b0;
          if ({16'h0, c_slot} >= 32'(SaSlots)) begin
            code_d = 4'd1;  // BAD_SLOT
          end else if (c_op == 3'd0 || c_op > 3'd3) begin
            code_d = 4'd5;  // BAD_OP
          end else begin
            cst_d = CRead;
          end
        end
      end
      CRead: cst_d = CCheck;
      CCheck: begin
        cst_d   = CIdle;
        wr_bm_d = 1'b0;
        unique case (c_op)
          3'd1: begin
            if (cur_q.state != SaFree) code_d = 4'd2;       // SLOT_BUSY
            else if (bad_param) code_d = 4'd4;              // BAD_PARAM
            else begin
              new_d    = staged;
              new_bm_d = install_bm;
              wr_bm_d  = c_dir;
              cst_d    = CHash;
            end
          end
          3'd2: begin
            if (cur_q.state == SaFree) code_d = 4'd3;       // SLOT_FREE
            else begin
              new_d    = '0;
              new_bm_d = '0;
              wr_bm_d  = c_dir;
              cst_d    = CWrite;
            end
          end
          default: begin
            if (cur_q.state == SaFree) code_d = 4'd3;
            else if (bad_limits) code_d = 4'd4;  // soft >= hard where both set
            else begin
              new_d            = cur_q;
              new_d.soft_pkts  = soft_p;
              new_d.hard_pkts  = hard_p;
              new_d.soft_bytes = soft_b;
              new_d.hard_bytes = hard_b;
              cst_d            = CWrite;
            end
          end
        endcase
      end
      CHash: begin
        hk_valid_o = 1'b1;
        if (hk_ready_i) cst_d = CWaitTag;
      end
      CWaitTag: begin
        hk_tag_ready_o = 1'b1;
        if (hk_tag_valid_i) begin
          new_d.hkey = hk_tag_i;
          cst_d      = CWrite;
        end
      end
      CWrite: begin
        code_d = 4'd0;
        cst_d  = CIdle;
      end
      default: cst_d = CIdle;
    endcase
  end

  assign hk_key_o    = new_q.key;
  assign hk_aes256_o = new_q.key256;
  assign busy_o      = (cst_q != CIdle) || pend_q;
  assign code_o      = code_q;

  always_ff @(posedge clk_i) begin : commit_regs
    if (rst_i) begin
      cst_q   <= CSweep;
      sweep_q <= '0;
      pend_q  <= 1'b0;
      code_q  <= 4'd0;
      cword_q <= '0;
      wr_bm_q <= 1'b0;
      new_q   <= '0;
    end else begin
      cst_q   <= cst_d;
      sweep_q <= sweep_d;
      pend_q  <= pend_d;
      code_q  <= code_d;
      cword_q <= cword_d;
      wr_bm_q <= wr_bm_d;
      new_q   <= new_d;
    end
  end

  always_ff @(posedge clk_i) begin : commit_data
    new_bm_q <= new_bm_d;
  end

  // ---- memories ----------------------------------------------------------------------------
  logic [SlotBits-1:0] c_idx, e_idx, ew_idx, s_idx;
  logic unused_hi;
  // slot numbers above SlotBits are rejected (BAD_SLOT) or masked by the engine
  assign unused_hi = ^{eng_slot_i, eng_wslot_i, snap_slot_i};
  assign c_idx  = c_slot[SlotBits-1:0];
  assign e_idx  = eng_slot_i[SlotBits-1:0];
  assign ew_idx = eng_wslot_i[SlotBits-1:0];
  assign s_idx  = snap_slot_i[SlotBits-1:0];

  always_ff @(posedge clk_i) begin : mem_write
    if (cst_q == CSweep) begin
      out_mem[sweep_q] <= '0;
      in_mem[sweep_q]  <= '0;
      bm_mem[sweep_q]  <= '0;
    end else if (cst_q == CWrite) begin
      if (c_dir) in_mem[c_idx] <= new_q;
      else out_mem[c_idx] <= new_q;
      if (wr_bm_q) bm_mem[c_idx] <= new_bm_q;
    end else if (eng_we_i) begin
      if (eng_wdir_i) begin
        in_mem[ew_idx] <= eng_wsa_i;
        bm_mem[ew_idx] <= eng_wbm_i;
      end else begin
        out_mem[ew_idx] <= eng_wsa_i;
      end
    end
  end

  always_ff @(posedge clk_i) begin : mem_read
    cur_q <= c_dir ? in_mem[c_idx] : out_mem[c_idx];
    if (eng_rd_i) begin
      eng_sa_o <= eng_dir_i ? in_mem[e_idx] : out_mem[e_idx];
      eng_bm_o <= bm_mem[e_idx];
    end
  end

  // Snapshot: only non-secret fields are copied out.
  sa_t snap_rd;
  logic unused_snap;
  assign unused_snap = ^snap_rd;
  assign snap_rd = snap_dir_i ? in_mem[s_idx] : out_mem[s_idx];
  always_ff @(posedge clk_i) begin : snap_read
    if (snap_req_i) begin
      snap_state_o   <= snap_rd.state;
      snap_seq_ovf_o <= snap_rd.seq_ovf;
      snap_spi_o     <= snap_rd.spi;
      snap_pkts_o    <= snap_rd.pkts;
      snap_bytes_o   <= snap_rd.bytes;
      snap_seq_o     <= snap_rd.seq;
    end
  end

`ifndef SYNTHESIS
  initial begin : check_params
    if (SaSlots < 2 || (SaSlots & (SaSlots - 1)) != 0 || SaSlots > 32768) begin
      $error("sa_table: SaSlots must be a power of two in 2..32768");
      $finish;
    end
    if (ReplayBits > 1024 || ReplayBits < 32) begin
      $error("sa_table: ReplayBits must be in 32..1024");
      $finish;
    end
  end
  // An engine write never coincides with a commit write (commits wait for eng_busy_i low).
  eng_write_excl_a: assert property (@(posedge clk_i) disable iff (rst_i)
      eng_we_i |-> (cst_q != CWrite && cst_q != CSweep));
`endif

endmodule
