// SPDX-License-Identifier: Apache-2.0
//
// ghash_pkg: GF(2^128) multiplication for GHASH (NIST SP 800-38D 6.3) as a function, so that a
// caller can evaluate it inside a guarded process (gcm_core's finalize stage computes it only in
// the cycles that produce a tag). ghash_mul wraps it as a combinational module.
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

package ghash_pkg;

  // V * x in the reflected order above.
  function automatic logic [127:0] mul_x(input logic [127:0] v);
    return {1'b0, v[127:1]} ^ (v[0] ? {8'he1, 120'h0} : 128'h0);
  endfunction

  // The reduction of the four bits shifted out by Z * x^4 (top 16 bits only):
  // RedTab[out] = XOR over m of (out[3-m] ? 16'hE100 >> m : 0).
  localparam logic [15:0] RedTab [16] = '{
    16'h0000, 16'h1c20, 16'h3840, 16'h2460, 16'h7080, 16'h6ca0, 16'h48c0, 16'h54e0,
    16'he100, 16'hfd20, 16'hd940, 16'hc560, 16'h9180, 16'h8da0, 16'ha9c0, 16'hb5e0
  };

  // a * b in GF(2^128), SP 800-38D bit order.
  function automatic logic [127:0] gf128_mul(input logic [127:0] a, input logic [127:0] b);
    logic [127:0] b_x1, b_x2, b_x3, t;
    logic [63:0]  m_hi [16];
    logic [63:0]  m_lo [16];
    logic [63:0]  z_hi, z_lo;
    logic [3:0]   nib, out;
    b_x1 = mul_x(b);
    b_x2 = mul_x(b_x1);
    b_x3 = mul_x(b_x2);
    for (int n = 0; n < 16; n++) begin
      t = (n[3] ? b : 128'h0) ^ (n[2] ? b_x1 : 128'h0) ^ (n[1] ? b_x2 : 128'h0)
        ^ (n[0] ? b_x3 : 128'h0);
      m_hi[n] = t[127:64];
      m_lo[n] = t[63:0];
    end
    z_hi = '0;
    z_lo = '0;
    for (int j = 31; j >= 0; j--) begin
      out  = z_lo[3:0];
      z_lo = {z_hi[3:0], z_lo[63:4]};
      z_hi = {4'h0, z_hi[63:4]} ^ {RedTab[out], 48'h0};
      nib  = a[127 - 4 * j -: 4];
      z_hi = z_hi ^ m_hi[nib];
      z_lo = z_lo ^ m_lo[nib];
    end
    return {z_hi, z_lo};
  endfunction

endpackage
