// SPDX-License-Identifier: Apache-2.0
//
// esp_pkg: types and pure functions shared by the ESP engine blocks (sa_table, esp_engine,
// espo_regs): the SA slot record, event record, status codes, Internet checksum helpers, ESN
// inference (RFC 4303 A2.2, SPEC 1.9) and the anti-replay window (SPEC 1.8).
//
// Byte order: every multi-byte field held here is a number (bit 0 = LSB) except `key` and
// `hkey`, which are kept in gcm_core's wire order (key byte 0 in bits [7:0]) so they can be
// handed to the core unchanged.
package esp_pkg;

  // SA slot states (REGISTERS.md SA_READ_STATE.STATE)
  typedef enum logic [1:0] {
    SaFree = 2'd0,
    SaActive = 2'd1,
    SaSoft = 2'd2,
    SaHard = 2'd3
  } sa_state_e;

  // Result record status (BUFFERS.md)
  localparam logic [7:0] StOk = 8'd0;
  localparam logic [7:0] StAuth = 8'd1;
  localparam logic [7:0] StReplay = 8'd2;
  localparam logic [7:0] StNoSa = 8'd3;
  localparam logic [7:0] StMalformed = 8'd4;
  localparam logic [7:0] StLifetime = 8'd5;
  localparam logic [7:0] StTooBig = 8'd6;
  localparam logic [7:0] StNotEsp = 8'd7;

  // Event kinds (EVT_HEAD.KIND)
  localparam logic [3:0] EvSoft = 4'd1;
  localparam logic [3:0] EvHard = 4'd2;
  localparam logic [3:0] EvSeqOverflow = 4'd3;

  // One SA slot (both directions; inbound also has a replay bitmap stored beside it).
  typedef struct packed {
    logic [1:0]   state;      // sa_state_e
    logic         seq_ovf;    // outbound sequence space used up
    logic [31:0]  spi;
    logic         esn;
    logic         gmac;
    logic         transport;
    logic         key256;
    logic         udp;
    logic         ipv6;
    logic [3:0]   icv_words;
    logic [15:0]  window;     // inbound replay window in packets (0 = off)
    logic [255:0] key;        // wire order (gcm_core convention)
    logic [31:0]  salt;       // number: salt byte 0 in [31:24]
    logic [127:0] hkey;       // H, wire order
    logic [63:0]  seq;        // outbound: last used; inbound: replay right edge T
    logic [127:0] src;        // {SRC0, SRC1, SRC2, SRC3}; IPv4 in [127:96]
    logic [127:0] dst;
    logic [15:0]  sport;
    logic [15:0]  dport;
    logic [63:0]  soft_pkts;
    logic [63:0]  hard_pkts;
    logic [63:0]  soft_bytes;
    logic [63:0]  hard_bytes;
    logic [63:0]  pkts;
    logic [63:0]  bytes;
    logic [15:0]  ip_id;      // next outer IPv4 Identification
  } sa_t;

  // The staging window (STAGE_* registers) as the register file hands it to sa_table.
  typedef struct packed {
    logic [31:0]  spi;
    logic [31:0]  flags;      // STAGE_FLAGS
    logic [31:0]  window;
    logic [255:0] key;        // wire order: key byte 0 in [7:0]
    logic [31:0]  salt;
    logic [63:0]  seq;
    logic [127:0] src;
    logic [127:0] dst;
    logic [31:0]  ports;      // {DPORT, SPORT}
    logic [255:0] limits;     // {LIMIT7, ..., LIMIT0}
  } stage_t;

  typedef struct packed {
    logic [3:0]  kind;
    logic        dir;
    logic [15:0] slot;
    logic [31:0] spi;
    logic [63:0] pkts;
    logic [63:0] bytes;
  } evt_t;

  // Ones' complement fold of a 32-bit sum of 16-bit words.
  function automatic logic [15:0] csum_fold(input logic [31:0] s);
    logic [31:0] t;
    t = {16'h0, s[15:0]} + {16'h0, s[31:16]};
    t = {16'h0, t[15:0]} + {16'h0, t[31:16]};
    return t[15:0];
  endfunction

  // RFC 4303 A2.2 (SPEC 1.9): the 64-bit sequence number for `s` given right edge `t`, window w.
  function automatic logic [63:0] esn_infer(input logic [63:0] t, input logic [15:0] w,
                                             input logic [31:0] s);
    logic [31:0] tl, th, bl, sh, w1;
    tl = t[31:0];
    th = t[63:32];
    w1 = {16'h0, w} - 32'd1;
    bl = tl - w1;
    if (tl >= w1) begin
      sh = (s >= bl) ? th : th + 32'd1;
    end else begin
      if (s >= bl) sh = (th == 32'h0) ? 32'h0 : th - 32'd1;
      else sh = th;
    end
    return {sh, s};
  endfunction

  // Replay pre-check (SPEC 1.8): 1 = replay (drop).
  function automatic logic replay_check(input logic [63:0] t, input logic [15:0] w,
                                        input logic [1023:0] bm, input logic [63:0] s);
    logic [63:0] d;
    logic r;
    d = t - s;
    r = 1'b0;
    if (w == 16'h0) r = 1'b0;
    else if (s == 64'h0) r = 1'b1;
    else if (s > t) r = 1'b0;
    else if (d >= {48'h0, w}) r = 1'b1;
    else r = bm[d[9:0]];
    return r;
  endfunction

  // Bitmap mask of the low w bits (w a power of two <= 1024, or 0).
  function automatic logic [1023:0] window_mask(input logic [15:0] w);
    logic [1023:0] m;
    for (int i = 0; i < 1024; i++) m[i] = (i < int'(w));
    return m;
  endfunction

endpackage
