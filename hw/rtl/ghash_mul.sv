// SPDX-License-Identifier: Apache-2.0
//
// ghash_mul: one GF(2^128) multiplication p_o = a_i * b_i for GHASH (NIST SP 800-38D 6.3),
// combinational (one cycle in the caller's register stage). The arithmetic is
// ghash_pkg::gf128_mul; its header fixes the bit order, summarised here:
//
// Bit order (SP 800-38D, the "reflected" convention). A block is the spec's big-endian bit
// string: wire byte 0 is bits [127:120], and its most significant bit, a_i[127], is "bit 0" of
// the spec, the coefficient of x^0. In general a_i[127-k] is the coefficient of x^k; a_i[0] is
// the coefficient of x^127. The field polynomial is x^128 + x^7 + x^2 + x + 1, so:
//   V * x  = (V >> 1) ^ (V[0] ? R : 0),   R = 8'hE1 << 120  (x^0, x^1, x^2, x^7)
// Example: the block 80 00 .. 00 (a_i[127] = 1) is the field element 1.
//
// Formulation (chosen for Verilator speed: 64-bit words, 32 steps instead of 128):
//   a = sum_j n_j(x) * x^(4j), n_j = the nibble a_i[127-4j -: 4] (its MSB is the x^(4j) term).
//   M[n] = n(x) * b for all 16 nibbles (from b, b*x, b*x^2, b*x^3), then Horner from the top:
//   Z = 0; for j = 31 .. 0: Z = Z * x^4 ^ M[n_j].
//   Z * x^4 shifts right by 4; the four coefficients x^124..x^127 that fall off (Z[3:0]) come
//   back as (Z[3-m] ? R >> m : 0) for m = 0..3, which touches only Z[127:112].
// No clock, no reset. Latency 0.

module ghash_mul
  import ghash_pkg::*;
(
  input  logic [127:0] a_i,
  input  logic [127:0] b_i,
  output logic [127:0] p_o
);

  assign p_o = gf128_mul(a_i, b_i);

endmodule
