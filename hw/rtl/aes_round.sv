// SPDX-License-Identifier: Apache-2.0
//
// aes_round: one AES encryption round (FIPS-197 5.1), combinational.
//
//   state_o = bypass_i ? state_i
//           : AddRoundKey(MixColumns?(ShiftRows(SubBytes(state_i))), rkey_i)
//
// MixColumns is skipped when last_i (the final round). bypass_i lets AES-128 blocks pass the
// four stages AES-256 needs beyond round 10, so both key sizes have the same latency.
// A full round is computed with the T-table (aes_pkg::te: SubBytes and MixColumns in one 32-bit
// lookup per byte); the final round with the S-box. The parameters drop the datapath a stage
// never uses (aes_pipeline: only stages 10 and 14 can be final; stage 14 is never a full round),
// which also keeps the Verilator model small.
// Bit order: big-endian bit strings as described in aes_pkg (byte 0 in [127:120]); column c is
// bits [127-32c -: 32], row r of it bits [31-8r -: 8].
// No clock, no reset. Latency 0 (aes_pipeline registers the result).

module aes_round
  import aes_pkg::*;
#(
  parameter bit HasFull = 1'b1,  // the stage can compute a full round (with MixColumns)
  parameter bit HasLast = 1'b1   // the stage can compute a final round (no MixColumns)
) (
  input  logic [127:0] state_i,
  input  logic [127:0] rkey_i,
  input  logic         last_i,    // final round (needs HasLast; else needs HasFull)
  input  logic         bypass_i,
  output logic [127:0] state_o
);

  // Byte of row r in column c of the input (ShiftRows reads column (c + r) mod 4).
  function automatic logic [7:0] in_byte(input logic [127:0] s, input int unsigned r,
                                         input int unsigned c);
    return s[127 - 8 * (r + 4 * ((c + r) % 4)) -: 8];
  endfunction

  logic [127:0] full;  // MixColumns(ShiftRows(SubBytes(state_i))) ^ rkey_i
  logic [127:0] last;  // ShiftRows(SubBytes(state_i)) ^ rkey_i

  if (HasFull) begin : gen_full
    always_comb begin : full_round
      for (int unsigned c = 0; c < 4; c++) begin
        full[127 - 32 * c -: 32] = te(in_byte(state_i, 0, c), 0) ^ te(in_byte(state_i, 1, c), 1)
                                 ^ te(in_byte(state_i, 2, c), 2) ^ te(in_byte(state_i, 3, c), 3)
                                 ^ rkey_i[127 - 32 * c -: 32];
      end
    end
  end else begin : gen_no_full
    assign full = '0;
  end

  if (HasLast) begin : gen_last
    always_comb begin : last_round
      for (int unsigned c = 0; c < 4; c++) begin
        for (int unsigned r = 0; r < 4; r++) begin
          last[127 - 8 * (r + 4 * c) -: 8] = sbox(in_byte(state_i, r, c))
                                           ^ rkey_i[127 - 8 * (r + 4 * c) -: 8];
        end
      end
    end
  end else begin : gen_no_last
    assign last = '0;
  end

  always_comb begin : select
    if (bypass_i) begin
      state_o = state_i;
    end else if (HasLast && (last_i || !HasFull)) begin
      state_o = last;
    end else begin
      state_o = full;
    end
  end

endmodule
