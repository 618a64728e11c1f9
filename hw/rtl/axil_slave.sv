// SPDX-License-Identifier: Apache-2.0
//
// axil_slave: AXI4-Lite slave to a simple register bus. One transaction at a time per channel
// pair: a write is accepted when AWVALID and WVALID are both high (both ready in that cycle),
// presented as a one-cycle wr_o pulse, and answered with BRESP OKAY; a read is accepted when no
// read response is pending, presented as a one-cycle rd_o pulse with the address, and rd_data_i
// (combinational from the register file in that cycle) is registered into RDATA. Byte strobes
// are ignored: registers are written whole (the driver writes 32-bit words only).
// Latency: write response 1 cycle after acceptance; read data 1 cycle after acceptance.
// Reset: synchronous, active high (valid bits only).
module axil_slave #(
  parameter int unsigned AddrBits = 12
) (
  input  logic                clk_i,
  input  logic                rst_i,

  input  logic [AddrBits-1:0] s_axil_awaddr_i,
  input  logic                s_axil_awvalid_i,
  output logic                s_axil_awready_o,
  input  logic [31:0]         s_axil_wdata_i,
  input  logic [3:0]          s_axil_wstrb_i,
  input  logic                s_axil_wvalid_i,
  output logic                s_axil_wready_o,
  output logic [1:0]          s_axil_bresp_o,
  output logic                s_axil_bvalid_o,
  input  logic                s_axil_bready_i,
  input  logic [AddrBits-1:0] s_axil_araddr_i,
  input  logic                s_axil_arvalid_i,
  output logic                s_axil_arready_o,
  output logic [31:0]         s_axil_rdata_o,
  output logic [1:0]          s_axil_rresp_o,
  output logic                s_axil_rvalid_o,
  input  logic                s_axil_rready_i,

  output logic                wr_o,
  output logic [AddrBits-1:0] wr_addr_o,
  output logic [31:0]         wr_data_o,
  output logic                rd_o,
  output logic [AddrBits-1:0] rd_addr_o,
  input  logic [31:0]         rd_data_i
);

  logic bvalid_q, rvalid_q;
  logic [31:0] rdata_q;
  logic wr_fire, rd_fire;

  // Nothing is accepted while in reset (the response flops would drop it).
  assign wr_fire = s_axil_awvalid_i && s_axil_wvalid_i && !bvalid_q && !rst_i;
  assign rd_fire = s_axil_arvalid_i && !rvalid_q && !rst_i;

  assign s_axil_awready_o = wr_fire;
  assign s_axil_wready_o  = wr_fire;
  assign s_axil_arready_o = rd_fire;
  assign s_axil_bresp_o   = 2'b00;
  assign s_axil_rresp_o   = 2'b00;
  assign s_axil_bvalid_o  = bvalid_q;
  assign s_axil_rvalid_o  = rvalid_q;
  assign s_axil_rdata_o   = rdata_q;

  assign wr_o      = wr_fire;
  assign wr_addr_o = {s_axil_awaddr_i[AddrBits-1:2], 2'b00};
  assign wr_data_o = s_axil_wdata_i;
  assign rd_o      = rd_fire;
  assign rd_addr_o = {s_axil_araddr_i[AddrBits-1:2], 2'b00};

  logic unused_strb;
  assign unused_strb = ^{s_axil_wstrb_i, s_axil_awaddr_i[1:0], s_axil_araddr_i[1:0]};

  always_ff @(posedge clk_i) begin : resp_valid
    if (rst_i) begin
      bvalid_q <= 1'b0;
      rvalid_q <= 1'b0;
    end else begin
      if (wr_fire) bvalid_q <= 1'b1;
      else if (s_axil_bready_i) bvalid_q <= 1'b0;
      if (rd_fire) rvalid_q <= 1'b1;
      else if (s_axil_rready_i) rvalid_q <= 1'b0;
    end
  end

  always_ff @(posedge clk_i) begin : read_data
    if (rd_fire) rdata_q <= rd_data_i;
  end

`ifndef SYNTHESIS
  bvalid_hold_a: assert property (@(posedge clk_i) disable iff (rst_i)
      s_axil_bvalid_o && !s_axil_bready_i |=> s_axil_bvalid_o);
  rvalid_hold_a: assert property (@(posedge clk_i) disable iff (rst_i)
      s_axil_rvalid_o && !s_axil_rready_i |=> s_axil_rvalid_o && $stable(s_axil_rdata_o));
`endif

endmodule
