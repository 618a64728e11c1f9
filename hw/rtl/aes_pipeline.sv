// SPDX-License-Identifier: Apache-2.0
//
// aes_pipeline: fully pipelined AES-128/AES-256 encryption, key size selectable per block.
//
// One block in and one block out per cycle while en_i is high. Every slot carries its own key
// state, key-size bit and SideBits of opaque sideband down the pipe, and expands its key on the
// fly (aes_key_step in every stage), so back-to-back blocks under different keys and key sizes
// need no bubbles and no per-key setup.
//
//   stage 0      : AddRoundKey(rk0), key step -> rk1 (and rk2 for AES-256)
//   stage 1..14  : round s with rk_s, key step -> rk_{s+1}
//                  AES-128: rounds 1..10 (10 = final), stages 11..14 pass the block through
//                  AES-256: rounds 1..14 (14 = final)
//
// Both key sizes have the same latency, so blocks never reorder.
// Bit order: big-endian bit strings (aes_pkg): block_i[127:120] is byte 0; key_i[255:248] is
// key byte 0; AES-128 uses key_i[255:128] and ignores key_i[127:0].
// Reset: synchronous, active high; only valid bits are reset.
// Latency: 15 enabled cycles (valid_i at an edge with en_i -> valid_o after 15 such edges).
// Throughput: 1 block per cycle. en_i low freezes every stage (a global stall).

module aes_pipeline
  import aes_pkg::*;
#(
  parameter int unsigned SideBits = 1  // opaque sideband carried alongside each block
) (
  input  logic                clk_i,
  input  logic                rst_i,
  input  logic                en_i,      // advance the pipe this cycle

  input  logic                valid_i,
  input  logic                aes256_i,  // 1: AES-256 (14 rounds), 0: AES-128 (10 rounds)
  input  logic [255:0]        key_i,
  input  logic [127:0]        block_i,
  input  logic [SideBits-1:0] side_i,

  output logic                valid_o,
  output logic [127:0]        block_o,
  output logic [SideBits-1:0] side_o
);

  localparam int unsigned Stages = AesRounds + 1;  // stage 0 (AddRoundKey 0) + 14 rounds

  logic                valid_q  [Stages];
  logic                aes256_q [Stages];
  logic [127:0]        state_q  [Stages];
  logic [SideBits-1:0] side_q   [Stages];
  logic [255:0]        keys_q   [AesRounds];  // keys for stage s+1 (none needed after stage 14)

  logic [255:0] keys0;

  aes_key_step u_key_step0 (
    .aes256_i (aes256_i),
    .round_i  (4'd0),
    .keys_i   (key_i),
    .keys_o   (keys0)
  );

  always_ff @(posedge clk_i) begin : stage0_valid
    if (rst_i) begin
      valid_q[0] <= 1'b0;
    end else if (en_i) begin
      valid_q[0] <= valid_i;
    end
  end

  always_ff @(posedge clk_i) begin : stage0_payload
    if (en_i) begin
      aes256_q[0] <= aes256_i;
      state_q[0]  <= block_i ^ key_i[255:128];
      side_q[0]   <= side_i;
      keys_q[0]   <= keys0;
    end
  end

  for (genvar s = 1; s < Stages; s++) begin : gen_round
    logic [127:0] state_d;
    logic         last;
    logic         bypass;

    assign last   = aes256_q[s-1] ? (s == 14) : (s == 10);
    assign bypass = !aes256_q[s-1] && (s > 10);

    aes_round #(
      .HasFull (s < AesRounds),
      .HasLast (s == 10 || s == AesRounds)
    ) u_round (
      .state_i  (state_q[s-1]),
      .rkey_i   (keys_q[s-1][255:128]),
      .last_i   (last),
      .bypass_i (bypass),
      .state_o  (state_d)
    );

    always_ff @(posedge clk_i) begin : stage_valid
      if (rst_i) begin
        valid_q[s] <= 1'b0;
      end else if (en_i) begin
        valid_q[s] <= valid_q[s-1];
      end
    end

    always_ff @(posedge clk_i) begin : stage_payload
      if (en_i) begin
        aes256_q[s] <= aes256_q[s-1];
        state_q[s]  <= state_d;
        side_q[s]   <= side_q[s-1];
      end
    end

    if (s < AesRounds) begin : gen_key
      logic [255:0] keys_d;
      aes_key_step u_key_step (
        .aes256_i (aes256_q[s-1]),
        .round_i  (4'(s)),
        .keys_i   (keys_q[s-1]),
        .keys_o   (keys_d)
      );
      always_ff @(posedge clk_i) begin : key_payload
        if (en_i) keys_q[s] <= keys_d;
      end
    end else begin : gen_no_key
      logic unused_keys;
      assign unused_keys = ^keys_q[s-1][127:0];
    end
  end

  assign valid_o = valid_q[Stages-1];
  assign block_o = state_q[Stages-1];
  assign side_o  = side_q[Stages-1];

  // aes256_q of the last stage only feeds nothing downstream.
  logic unused_last;
  assign unused_last = aes256_q[Stages-1];

endmodule
