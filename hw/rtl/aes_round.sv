// SPDX-License-Identifier: Apache-2.0
//
// aes_round: one AES encryption round (FIPS-197 5.1), combinational.
//
//   state_o = bypass_i ? state_i
//           : AddRoundKey(MixColumns?(ShiftRows(SubBytes(state_i))), rkey_i)
//
// MixColumns is skipped when last_i (the final round). bypass_i lets AES-128 blocks pass the
// four stages AES-256 needs beyond round 10, so both key sizes have the same latency.
// Bit order: big-endian bit strings as described in aes_pkg (byte 0 in [127:120]).
// No clock, no reset. Latency 0 (aes_pipeline registers the result).

module aes_round
  import aes_pkg::*;
(
  input  logic [127:0] state_i,
  input  logic [127:0] rkey_i,
  input  logic         last_i,
  input  logic         bypass_i,
  output logic [127:0] state_o
);

  logic [127:0] shifted;  // ShiftRows(SubBytes(state_i))
  logic [127:0] mixed;

  // Byte b = r + 4c sits at bits [127-8b -: 8]; ShiftRows: s'[r][c] = s[r][(c + r) mod 4].
  always_comb begin : sub_shift
    shifted = '0;
    for (int c = 0; c < 4; c++) begin
      for (int r = 0; r < 4; r++) begin
        shifted[127 - 8 * (r + 4 * c) -: 8] = sbox(state_i[127 - 8 * (r + 4 * ((c + r) % 4)) -: 8]);
      end
    end
  end

  always_comb begin : mix
    for (int c = 0; c < 4; c++) begin
      mixed[127 - 32 * c -: 32] = mix_column(shifted[127 - 32 * c -: 32]);
    end
  end

  assign state_o = bypass_i ? state_i : ((last_i ? shifted : mixed) ^ rkey_i);

endmodule
