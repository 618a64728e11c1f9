// SPDX-License-Identifier: Apache-2.0
//
// aes_key_step: one step of on-the-fly AES key expansion (FIPS-197 5.2), combinational.
//
// Key state carried down aes_pipeline with every block (256 bits, big-endian words):
//   AES-128: keys_i[255:128] = round key r;                        [127:0] unused (passed on)
//   AES-256: keys_i[255:128] = round key r, keys_i[127:0] = round key r+1
// keys_o is the same state for round r+1. round_i = r (0..14). Four S-boxes per step.
// For AES-256 the new round key r+2 starts at word i = 4(r+2): RotWord+Rcon[i/8] when i mod 8
// = 0 (r even), SubWord only when i mod 8 = 4 (r odd). For AES-128, round key r+1 always uses
// RotWord and Rcon[r+1]. Steps past the last round produce don't-care keys that are never used.
// No clock, no reset. Latency 0.

module aes_key_step
  import aes_pkg::*;
(
  input  logic         aes256_i,
  input  logic [3:0]   round_i,
  input  logic [255:0] keys_i,
  output logic [255:0] keys_o
);

  logic [127:0] base;     // the round key 8 (AES-256) or 4 (AES-128) words back
  logic [31:0]  prev;     // w[i-1]
  logic         rot;      // RotWord + Rcon, or SubWord only
  logic [7:0]   rc;
  logic [31:0]  temp;
  logic [127:0] next_key;

  always_comb begin : expand
    base = keys_i[255:128];
    if (aes256_i) begin
      prev = keys_i[31:0];
      rot  = !round_i[0];
      rc   = rcon(4'((round_i + 4'd2) >> 1));
    end else begin
      prev = keys_i[159:128];
      rot  = 1'b1;
      rc   = rcon(round_i + 4'd1);
    end
    temp = rot ? (sub_word({prev[23:0], prev[31:24]}) ^ {rc, 24'h0}) : sub_word(prev);
    next_key[127:96] = base[127:96] ^ temp;
    next_key[95:64]  = base[95:64] ^ next_key[127:96];
    next_key[63:32]  = base[63:32] ^ next_key[95:64];
    next_key[31:0]   = base[31:0] ^ next_key[63:32];
    keys_o = aes256_i ? {keys_i[127:0], next_key} : {next_key, keys_i[127:0]};
  end

endmodule
