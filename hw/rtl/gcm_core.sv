// SPDX-License-Identifier: Apache-2.0
//
// gcm_core: AES-GCM (NIST SP 800-38D, 96-bit IV) encrypt/decrypt, 16 bytes per cycle, with
// AES-128 and AES-256 mixed per message and no bubbles between messages.
//
// Streams (all valid/ready, AXI-Stream rules):
//   s_cmd  : one command per message (key, aes256, iv, hkey = H, decrypt, aad_len, text_len,
//            tag_len, expected_tag, hash_key). Buffered in a CmdDepth-entry command FIFO, so the
//            source may run up to CmdDepth messages ahead of the data. s_cmd_valid must not wait
//            for s_axis_tready (the two streams are independent).
//   s_axis : per message ceil(aad_len/16) AAD beats, then ceil(text_len/16) text beats; each part
//            starts on a fresh beat; tkeep is all ones except on the partial last beat of a part;
//            tlast marks the message's last beat (the last text beat, or the last AAD beat when
//            text_len = 0). A message with aad_len = text_len = 0, and a hash_key op, send no beats.
//            The lengths in the command are authoritative; tkeep/tlast are checked by assertions.
//   m_axis : the text out (ciphertext on encrypt, plaintext on decrypt), same framing as the text
//            input; tlast on the last text beat; bytes outside tkeep are zero. The core streams
//            and does NOT withhold decrypted data until the tag verifies: in the ESP engine a
//            store-and-forward buffer holds it until tag_ok (SPEC 2.5).
//   m_tag  : one per message, in order: tag (full 16-byte T, wire order) and tag_ok (decrypt
//            only: the first tag_len bytes of T equal expected_tag; 0 on encrypt and hash_key).
//            hash_key op: tag = E_K(0^128) = H, computed in one AES slot; lengths are ignored.
//
// Byte and bit order. Every port uses wire order: byte i of a field is bits [8i+7:8i]
// (tdata[7:0] = first byte on the wire; key byte 0 = s_cmd_key_i[7:0]; AES-128 uses key bytes
// 0..15 = s_cmd_key_i[127:0]; iv byte 0 = s_cmd_iv_i[7:0]; tag byte 0 = m_tag_tag_o[7:0]).
// Inside, everything is the spec's big-endian bit string (byte 0 in the top bits; see aes_pkg
// and ghash_mul). The conversion is swap_bytes() below, applied only at the ports
// (cmd FIFO write, s_axis issue, m_axis/m_tag push): this is the one place.
//
// Where things happen:
//   Key expansion: on the fly, in the pipe (aes_key_step in every aes_pipeline stage); no per-key
//     setup, every message may use a different key.
//   H = E_K(0): not computed per message. The caller passes hkey; in the ESP engine it is
//     computed once per SA at install with the hash_key op and stored with the slot (SPEC 2.6).
//   E_K(J0) (the tag mask) takes one AES slot per message, folded into the slot of the first AAD
//     beat (AAD beats use GHASH only). The length block's GHASH runs in the finalize stage, which
//     overlaps the next message.
//
// Cost per message, in issue slots (cycles at full rate):
//   ceil(aad_len/16) + ceil(text_len/16)           when aad_len > 0
//   1 + ceil(text_len/16)                           when aad_len = 0 (the E_K(J0) slot)
//   plus 1 bubble if the command reaches the FIFO in the same cycle as the message's first beat
//   (no bubble when the command arrives at least one cycle earlier, as the sim wrapper does).
//
// Latency (ready sinks): a slot issued at edge t (the edge accepting its beat) is in aes_pipeline
// stage s after edge t+s; its text beat is valid on m_axis after edge t+15 (GHASH/XOR stage
// pushes the output FIFO); the tag of a message whose last slot issued at t is valid on m_tag
// after edge t+16 (finalize register, tag FIFO).
// Throughput: 1 beat in and 1 beat out per cycle.
// Backpressure: one pipe enable (pipe_en) freezes issue, the AES pipe, GHASH and finalize when
// the output FIFO (2 entries) or the tag FIFO (4 entries) is full. pipe_en depends on registered
// FIFO counts only, so m_axis_tready_i/m_tag_ready_i have no combinational path into the pipe.
// Reset: synchronous, active high; valid bits, pointers and counters only.

module gcm_core
  import aes_pkg::*;
#(
  parameter int unsigned CmdDepth = 32  // command FIFO entries (power of two)
) (
  input  logic         clk_i,
  input  logic         rst_i,

  // Command stream, one per message
  input  logic         s_cmd_valid_i,
  output logic         s_cmd_ready_o,
  input  logic [255:0] s_cmd_key_i,           // wire order; AES-128 uses [127:0]
  input  logic         s_cmd_aes256_i,
  input  logic [95:0]  s_cmd_iv_i,            // wire order
  input  logic [127:0] s_cmd_hkey_i,          // H = E_K(0^128), wire order
  input  logic         s_cmd_decrypt_i,
  input  logic         s_cmd_hash_key_i,      // compute E_K(0^128) and return it as the tag
  input  logic [15:0]  s_cmd_aad_len_i,       // bytes
  input  logic [15:0]  s_cmd_text_len_i,      // bytes
  input  logic [4:0]   s_cmd_tag_len_i,       // bytes compared on decrypt, 4..16
  input  logic [127:0] s_cmd_expected_tag_i,  // wire order, decrypt

  // Data in: AAD beats, then text beats
  input  logic [127:0] s_axis_tdata_i,
  input  logic [15:0]  s_axis_tkeep_i,
  input  logic         s_axis_tlast_i,
  input  logic         s_axis_tvalid_i,
  output logic         s_axis_tready_o,

  // Text out
  output logic [127:0] m_axis_tdata_o,
  output logic [15:0]  m_axis_tkeep_o,
  output logic         m_axis_tlast_o,
  output logic         m_axis_tvalid_o,
  input  logic         m_axis_tready_i,

  // Tag out, one per message
  output logic [127:0] m_tag_tag_o,           // wire order
  output logic         m_tag_ok_o,
  output logic         m_tag_valid_o,
  input  logic         m_tag_ready_i
);

  localparam int unsigned CmdAw    = $clog2(CmdDepth);
  localparam int unsigned TagDepth = 4;

  // ---- byte order: the one conversion between wire order and big-endian bit strings --------
  function automatic logic [127:0] swap_bytes(input logic [127:0] x);
    logic [127:0] y;
    for (int i = 0; i < 16; i++) y[127 - 8 * i -: 8] = x[8 * i +: 8];
    return y;
  endfunction

  // Byte mask in big-endian order: byte i (bits [127-8i -: 8]) is ones when keep[i] (lane i).
  function automatic logic [127:0] keep_mask(input logic [15:0] keep);
    logic [127:0] m;
    for (int i = 0; i < 16; i++) m[127 - 8 * i -: 8] = {8{keep[i]}};
    return m;
  endfunction

  // tkeep for a part with `left` bytes still to send.
  function automatic logic [15:0] keep_for(input logic [15:0] left);
    return (left >= 16'd16) ? 16'hffff : 16'((17'h1 << left[3:0]) - 17'h1);
  endfunction

  // ---- command FIFO: written at s_cmd, read by issue (iss_ptr) and retired by GHASH (ret_ptr) --
  typedef struct packed {
    logic [255:0] key;       // big-endian: key byte 0 in [255:248]
    logic         aes256;
    logic [95:0]  iv;        // big-endian
    logic [127:0] hkey;      // big-endian
    logic         decrypt;
    logic         hash_key;
    logic [15:0]  aad_len;
    logic [15:0]  text_len;
    logic [4:0]   tag_len;
    logic [127:0] expected;  // big-endian
  } cmd_t;

  cmd_t             cmd_mem [CmdDepth];
  logic [CmdAw:0]   wr_ptr_q, iss_ptr_q, ret_ptr_q;
  logic [CmdAw:0]   cmd_used;
  logic             cmd_fire;
  logic             pipe_en;

  // Wire order -> big-endian, evaluated only when a command is written.
  function automatic cmd_t cmd_from_ports(
      input logic [255:0] key, input logic aes256, input logic [95:0] iv,
      input logic [127:0] hkey, input logic decrypt, input logic hash_key,
      input logic [15:0] aad_len, input logic [15:0] text_len, input logic [4:0] tag_len,
      input logic [127:0] expected);
    logic [95:0] iv_be;
    for (int i = 0; i < 12; i++) iv_be[95 - 8 * i -: 8] = iv[8 * i +: 8];  // swap_bytes, 12 B
    return '{key: {swap_bytes(key[127:0]), swap_bytes(key[255:128])}, aes256: aes256,
             iv: iv_be, hkey: swap_bytes(hkey), decrypt: decrypt, hash_key: hash_key,
             aad_len: aad_len, text_len: text_len, tag_len: tag_len,
             expected: swap_bytes(expected)};
  endfunction

  assign cmd_used      = wr_ptr_q - ret_ptr_q;
  assign s_cmd_ready_o = (cmd_used != (CmdAw + 1)'(CmdDepth));
  assign cmd_fire      = s_cmd_valid_i && s_cmd_ready_o;

  always_ff @(posedge clk_i) begin : cmd_write
    if (cmd_fire) begin
      cmd_mem[wr_ptr_q[CmdAw-1:0]] <= cmd_from_ports(
          s_cmd_key_i, s_cmd_aes256_i, s_cmd_iv_i, s_cmd_hkey_i, s_cmd_decrypt_i,
          s_cmd_hash_key_i, s_cmd_aad_len_i, s_cmd_text_len_i, s_cmd_tag_len_i,
          s_cmd_expected_tag_i);
    end
  end

  // ---- issue: one slot per cycle into the AES pipe -------------------------------------------
  // Slot of a message: first slot = E_K(J0) (plus the first AAD beat, if any); then AAD beats
  // (GHASH only); then text beats (AES on CB_i = IV || ctr, ctr from 2).
  typedef struct packed {
    logic [127:0] data;   // big-endian input beat (AAD or text)
    logic [15:0]  keep;   // lanes valid in data (wire lane order)
    logic         text;   // a text beat: keystream XOR, goes to m_axis
    logic         ghash;  // data (AAD) or ciphertext (text) enters GHASH
    logic         first;  // first slot of the message: block_o is E_K(J0) (or E_K(0))
    logic         last;   // last slot of the message: finalize next
    logic         tlast;  // last text beat
  } side_t;

  logic         active_q, active_d;      // a message is partly issued
  logic [15:0]  aad_left_q, aad_left_d;  // bytes still to take
  logic [15:0]  txt_left_q, txt_left_d;
  logic [31:0]  ctr_q, ctr_d;            // inc32 counter of the next text block

  cmd_t         iss_cmd;
  logic         have_msg;
  logic         first;
  logic [15:0]  aad_left, txt_left, part_left;
  logic [31:0]  ctr;
  logic         take_aad, take_txt, take_beat;
  logic         last_slot;
  logic         issue;
  logic [15:0]  beat_keep;
  logic [127:0] aes_block;
  side_t        side_in;

  assign iss_cmd  = cmd_mem[iss_ptr_q[CmdAw-1:0]];
  assign have_msg = active_q || (iss_ptr_q != wr_ptr_q);
  assign first    = !active_q;

  always_comb begin : issue_logic
    aad_left   = active_q ? aad_left_q : (iss_cmd.hash_key ? 16'h0 : iss_cmd.aad_len);
    txt_left   = active_q ? txt_left_q : (iss_cmd.hash_key ? 16'h0 : iss_cmd.text_len);
    ctr        = active_q ? ctr_q : 32'd2;
    take_aad   = (aad_left != 16'h0);
    take_txt   = !first && !take_aad && (txt_left != 16'h0);
    take_beat  = take_aad || take_txt;
    part_left  = take_aad ? aad_left : txt_left;
    beat_keep  = take_beat ? keep_for(part_left) : 16'h0;
    aad_left_d = aad_left;
    txt_left_d = txt_left;
    ctr_d      = ctr;
    if (take_aad) begin
      aad_left_d = (aad_left >= 16'd16) ? aad_left - 16'd16 : 16'h0;
    end
    if (take_txt) begin
      txt_left_d = (txt_left >= 16'd16) ? txt_left - 16'd16 : 16'h0;
      ctr_d      = ctr + 32'd1;
    end
    last_slot = (aad_left_d == 16'h0) && (txt_left_d == 16'h0);
    issue     = pipe_en && have_msg && (!take_beat || s_axis_tvalid_i);
    active_d  = active_q;
    if (issue) active_d = !last_slot;
    if (first) begin
      aes_block = iss_cmd.hash_key ? 128'h0 : {iss_cmd.iv, 32'd1};  // E_K(0) or J0
    end else begin
      aes_block = {iss_cmd.iv, ctr};  // CB_i; ignored on AAD slots
    end
    side_in = '{
      data:  swap_bytes(s_axis_tdata_i),
      keep:  beat_keep,
      text:  take_txt,
      ghash: take_beat,
      first: first,
      last:  last_slot,
      tlast: take_txt && (txt_left_d == 16'h0)
    };
  end

  assign s_axis_tready_o = pipe_en && have_msg && take_beat;

  always_ff @(posedge clk_i) begin : issue_regs
    if (rst_i) begin
      active_q  <= 1'b0;
      wr_ptr_q  <= '0;
      iss_ptr_q <= '0;
    end else begin
      active_q <= active_d;
      if (cmd_fire) wr_ptr_q <= wr_ptr_q + 1'b1;
      if (issue && last_slot) iss_ptr_q <= iss_ptr_q + 1'b1;
    end
  end

  always_ff @(posedge clk_i) begin : issue_payload
    if (issue) begin
      aad_left_q <= aad_left_d;
      txt_left_q <= txt_left_d;
      ctr_q      <= ctr_d;
    end
  end

  // ---- AES pipe ---------------------------------------------------------------------------------
  logic         pipe_valid;
  logic [127:0] pipe_block;  // keystream, E_K(J0) on first slots
  side_t        pipe_side;

  aes_pipeline #(
    .SideBits ($bits(side_t))
  ) u_aes (
    .clk_i    (clk_i),
    .rst_i    (rst_i),
    .en_i     (pipe_en),
    .valid_i  (issue),
    .aes256_i (iss_cmd.aes256),
    .key_i    (iss_cmd.key),
    .block_i  (aes_block),
    .side_i   (side_in),
    .valid_o  (pipe_valid),
    .block_o  (pipe_block),
    .side_o   (pipe_side)
  );

  // ---- GHASH / XOR stage ---------------------------------------------------------------------
  cmd_t         ret_cmd;     // the command of the message leaving the pipe
  logic [127:0] byte_mask;
  logic [127:0] data_m;
  logic [127:0] text_out;    // big-endian
  logic [127:0] ghash_x;
  logic [127:0] y_in, y_mul, y_d, y_q;
  logic [127:0] mask_q;      // E_K(J0) of the message in the GHASH stage
  logic         slot_done;   // a slot leaves the pipe this cycle
  logic         retire;      // ... and it is its message's last

  assign ret_cmd   = cmd_mem[ret_ptr_q[CmdAw-1:0]];
  assign byte_mask = keep_mask(pipe_side.keep);
  assign data_m    = pipe_side.data & byte_mask;
  assign text_out  = (pipe_side.data ^ pipe_block) & byte_mask;
  assign ghash_x   = (pipe_side.text && !ret_cmd.decrypt) ? text_out : data_m;
  assign y_in      = pipe_side.first ? 128'h0 : y_q;
  assign slot_done = pipe_en && pipe_valid;
  assign retire    = slot_done && pipe_side.last;

  ghash_mul u_ghash (
    .a_i (y_in ^ ghash_x),
    .b_i (ret_cmd.hkey),
    .p_o (y_mul)
  );
  assign y_d = pipe_side.ghash ? y_mul : y_in;

  always_ff @(posedge clk_i) begin : ghash_regs
    if (rst_i) begin
      ret_ptr_q <= '0;
    end else if (retire) begin
      ret_ptr_q <= ret_ptr_q + 1'b1;
    end
  end

  always_ff @(posedge clk_i) begin : ghash_payload
    if (slot_done) begin
      y_q <= y_d;
      if (pipe_side.first) mask_q <= pipe_block;
    end
  end

  // ---- finalize: S = (Y ^ len block) * H, T = E_K(J0) ^ S, tag compare ----------------------
  typedef struct packed {
    logic [127:0] tag;  // wire order
    logic         ok;
  } tag_t;

  logic         fin_valid_q;
  logic [127:0] fin_y_q, fin_h_q, fin_len_q, fin_mask_q, fin_expected_q;
  logic         fin_hash_q, fin_decrypt_q;
  logic [4:0]   fin_tag_len_q;

  always_ff @(posedge clk_i) begin : fin_valid
    if (rst_i) begin
      fin_valid_q <= 1'b0;
    end else if (pipe_en) begin
      fin_valid_q <= pipe_valid && pipe_side.last;
    end
  end

  always_ff @(posedge clk_i) begin : fin_payload
    if (retire) begin
      fin_y_q        <= y_d;
      fin_h_q        <= ret_cmd.hkey;
      fin_len_q      <= {45'h0, ret_cmd.aad_len, 3'h0, 45'h0, ret_cmd.text_len, 3'h0};
      fin_mask_q     <= pipe_side.first ? pipe_block : mask_q;
      fin_hash_q     <= ret_cmd.hash_key;
      fin_decrypt_q  <= ret_cmd.decrypt;
      fin_tag_len_q  <= ret_cmd.tag_len;
      fin_expected_q <= ret_cmd.expected;
    end
  end

  // The tag and its check, evaluated only in the cycles that push a tag (tag_payload).
  function automatic tag_t finalize(
      input logic [127:0] y, input logic [127:0] len_block, input logic [127:0] h,
      input logic [127:0] mask, input logic hash_key, input logic decrypt,
      input logic [4:0] tag_len, input logic [127:0] expected);
    logic [127:0] tag;  // big-endian
    logic [127:0] cmp_mask;
    for (int i = 0; i < 16; i++) cmp_mask[127 - 8 * i -: 8] = {8{(5'(i) < tag_len)}};
    tag = hash_key ? mask : (ghash_pkg::gf128_mul(y ^ len_block, h) ^ mask);
    return '{tag: swap_bytes(tag),
             ok: decrypt && !hash_key && (((tag ^ expected) & cmp_mask) == '0)};
  endfunction

  // ---- output FIFO (2 entries) ---------------------------------------------------------------
  typedef struct packed {
    logic [127:0] data;  // wire order
    logic [15:0]  keep;
    logic         last;
  } beat_t;

  beat_t      out_mem [2];
  logic       out_wr_q, out_rd_q;
  logic [1:0] out_cnt_q;
  logic       out_push, out_pop;

  assign out_push = slot_done && pipe_side.text;
  assign out_pop  = m_axis_tvalid_o && m_axis_tready_i;

  always_ff @(posedge clk_i) begin : out_ctrl
    if (rst_i) begin
      out_wr_q  <= 1'b0;
      out_rd_q  <= 1'b0;
      out_cnt_q <= 2'd0;
    end else begin
      if (out_push) out_wr_q <= !out_wr_q;
      if (out_pop) out_rd_q <= !out_rd_q;
      out_cnt_q <= out_cnt_q + {1'b0, out_push} - {1'b0, out_pop};
    end
  end

  always_ff @(posedge clk_i) begin : out_payload
    if (out_push) begin
      out_mem[out_wr_q] <= '{data: swap_bytes(text_out), keep: pipe_side.keep,
                             last: pipe_side.tlast};
    end
  end

  assign m_axis_tvalid_o = (out_cnt_q != 2'd0);
  assign m_axis_tdata_o  = out_mem[out_rd_q].data;
  assign m_axis_tkeep_o  = out_mem[out_rd_q].keep;
  assign m_axis_tlast_o  = out_mem[out_rd_q].last;

  // ---- tag FIFO (TagDepth entries) -------------------------------------------------------------
  tag_t       tag_mem [TagDepth];
  logic [1:0] tag_wr_q, tag_rd_q;
  logic [2:0] tag_cnt_q;
  logic       tag_push, tag_pop;

  assign tag_push = pipe_en && fin_valid_q;
  assign tag_pop  = m_tag_valid_o && m_tag_ready_i;

  always_ff @(posedge clk_i) begin : tag_ctrl
    if (rst_i) begin
      tag_wr_q  <= 2'd0;
      tag_rd_q  <= 2'd0;
      tag_cnt_q <= 3'd0;
    end else begin
      if (tag_push) tag_wr_q <= tag_wr_q + 2'd1;
      if (tag_pop) tag_rd_q <= tag_rd_q + 2'd1;
      tag_cnt_q <= tag_cnt_q + {2'b0, tag_push} - {2'b0, tag_pop};
    end
  end

  always_ff @(posedge clk_i) begin : tag_payload
    if (tag_push) begin
      tag_mem[tag_wr_q] <= finalize(fin_y_q, fin_len_q, fin_h_q, fin_mask_q, fin_hash_q,
                                    fin_decrypt_q, fin_tag_len_q, fin_expected_q);
    end
  end

  assign m_tag_valid_o = (tag_cnt_q != 3'd0);
  assign m_tag_tag_o   = tag_mem[tag_rd_q].tag;
  assign m_tag_ok_o    = tag_mem[tag_rd_q].ok;

  // Issue reads key/iv/lengths, retire the GHASH fields: each leaves the other's fields unread.
  logic unused_fields;
  assign unused_fields = ^{iss_cmd.hkey, iss_cmd.decrypt, iss_cmd.tag_len, iss_cmd.expected,
                           ret_cmd.key, ret_cmd.aes256, ret_cmd.iv};

  // ---- the one pipe enable -----------------------------------------------------------------------
  assign pipe_en = (out_cnt_q != 2'd2) && (tag_cnt_q != 3'(TagDepth));

`ifndef SYNTHESIS
  // AXI-Stream rule on both outputs: once valid is high it and the payload hold until ready.
  property p_axis_hold;
    @(posedge clk_i) disable iff (rst_i)
    (m_axis_tvalid_o && !m_axis_tready_i) |=>
      (m_axis_tvalid_o && $stable(m_axis_tdata_o) && $stable(m_axis_tkeep_o)
       && $stable(m_axis_tlast_o));
  endproperty
  axis_hold_a: assert property (p_axis_hold) else $error("m_axis changed before tready");

  property p_tag_hold;
    @(posedge clk_i) disable iff (rst_i)
    (m_tag_valid_o && !m_tag_ready_i) |=>
      (m_tag_valid_o && $stable(m_tag_tag_o) && $stable(m_tag_ok_o));
  endproperty
  tag_hold_a: assert property (p_tag_hold) else $error("m_tag changed before ready");

  // The sender's framing must match the command's lengths.
  property p_in_keep;
    @(posedge clk_i) disable iff (rst_i)
    (s_axis_tvalid_i && s_axis_tready_o) |-> (s_axis_tkeep_i == beat_keep);
  endproperty
  in_keep_a: assert property (p_in_keep) else $error("s_axis tkeep disagrees with the lengths");

  property p_in_last;
    @(posedge clk_i) disable iff (rst_i)
    (s_axis_tvalid_i && s_axis_tready_o) |-> (s_axis_tlast_i == last_slot);
  endproperty
  in_last_a: assert property (p_in_last) else $error("s_axis tlast disagrees with the lengths");

  // The output FIFOs never overflow (pipe_en guarantees room).
  property p_no_overflow;
    @(posedge clk_i) disable iff (rst_i)
    (out_cnt_q <= 2'd2) && (tag_cnt_q <= 3'(TagDepth));
  endproperty
  no_overflow_a: assert property (p_no_overflow) else $error("gcm_core output FIFO overflow");

  // A retiring slot always has its command in the FIFO.
  property p_retire_has_cmd;
    @(posedge clk_i) disable iff (rst_i)
    retire |-> (ret_ptr_q != iss_ptr_q);
  endproperty
  retire_has_cmd_a: assert property (p_retire_has_cmd) else $error("retire without command");

  initial begin : param_check
    if (CmdDepth < 2 || (CmdDepth & (CmdDepth - 1)) != 0) $fatal(1, "CmdDepth: power of two >= 2");
  end
`endif

endmodule
