// SPDX-License-Identifier: Apache-2.0
//
// esp_engine: the batch engine of the espo kernel (docs/BUFFERS.md, docs/ENGINE_SEMANTICS.md).
// Reads input records over the AXI4 master (m_axi_*, 512-bit data), processes each packet
// store-and-forward (outbound ESP encapsulation / inbound decapsulation, SPEC 1.6, 1.7, 4, 5.1)
// with gcm_core, and writes one result record per input record.
//
// Structure: five units over Slots (4) packet entries, each a pair of byte-addressed buffers,
// `ibuf` (the input packet, filled 64 bytes per AXI beat) and `obuf` (the result being built),
// so several packets are in flight (docs/ENGINE_RTL.md has the diagram):
//   reader    AXI read of the record header beat, then the rest of the packet into the next
//             free entry (bursts split at 4 KiB); up to Slots entries ahead of the writer
//   packet FSM, in record order, with one packet context `c` and one deferred context `d`:
//     front end (FE): [WALK IPv6 extension headers] PARSE, SA read, CHECK (lookup, limits,
//           replay pre-check, lengths), outbound HDR (header image -> obuf), then CRYPT: the
//           gcm_core command goes to the core's command FIFO and the data job to the feeder
//     back end (BE): inbound: wait for the tag (WTAG), TRAIL / PADCHK / INNER / PATCH, the
//           transport header rebuild, then RCK: the SA is read again and the replay / lifetime
//           pre-check repeated on the fresh state (RFC 4303 3.4.3; a changed verdict or ESN
//           inference re-runs the packet), FIN (the only SA state change: sequence, window,
//           counters, lifetime state; drop / packet counters; OUT_FULL check), EVT
//     An inbound packet that has handed its job to the feeder is parked in `d` (it waits for
//     its tag) while the FE of the next packet runs; the next packet then parks and the FSM
//     returns to the older one (swap), so FIN always runs in record order and the core's input
//     never waits for a tag. An outbound packet runs FIN right after CRYPT (nothing it commits
//     depends on gcm_core); a younger packet that reaches FIN first swaps with the parked one.
//   feeder    gcm_core AAD/text beats of one job at a time from ibuf/obuf (plus one queued
//             job), back to back across packets
//   collector gcm_core text out -> obuf of the job's entry, the tag (outbound: ICV into obuf)
//   writer    AXI write of each result record in order (64-byte beats with byte strobes; bytes
//             past the data up to the record's 16-byte end are zero) once its entry's FIN has
//             run and its crypt job is complete
// SA state is written only at FIN, in record order; a front end that read a slot before an
// older packet's FIN sees stale state, which is why outbound FE never overtakes an older
// outbound FIN (FE starts only after it) and inbound repeats its checks at RCK. No byte of an
// inbound packet is written to host memory before its ICV verified and all trailer checks
// passed; drops write a 16-byte record with length 0.
//
// Overhead per packet (cycles, no backpressure, memory latency excluded): see docs/ENGINE_RTL.md.
// Commits (sa_table) never run while busy_o is high. Reset: synchronous, active high.
module esp_engine
  import esp_pkg::*;
#(
  parameter int unsigned SaSlots = 1024,
  parameter int unsigned ReplayBits = 1024,
  parameter int unsigned MaxPacket = 9600
) (
  input  logic                  clk_i,
  input  logic                  rst_i,

  // batch control
  input  logic                  start_i,
  output logic                  done_o,
  output logic                  idle_o,
  output logic                  busy_o,
  input  logic                  sa_busy_i,
  input  logic [63:0]           in_addr_i,
  input  logic [31:0]           in_count_i,
  input  logic [63:0]           out_addr_i,
  input  logic [31:0]           out_size_i,
  output logic [31:0]           out_count_o,
  output logic [31:0]           out_bytes_o,
  output logic [31:0]           batch_status_o,

  // SA table port
  output logic                  sa_rd_o,
  output logic                  sa_dir_o,
  output logic [15:0]           sa_slot_o,
  input  sa_t                   sa_i,
  input  logic [ReplayBits-1:0] bm_i,
  output logic                  sa_we_o,
  output logic                  sa_wdir_o,
  output logic [15:0]           sa_wslot_o,
  output sa_t                   sa_wsa_o,
  output logic [ReplayBits-1:0] sa_wbm_o,

  // counters and events
  output logic [4:0]            drop_inc_o,
  output logic [1:0]            pkt_inc_o,
  output logic                  evt_valid_o,
  output evt_t                  evt_o,

  // gcm_core (hash_key is never used by the engine)
  output logic                  gcm_cmd_valid_o,
  input  logic                  gcm_cmd_ready_i,
  output logic [255:0]          gcm_cmd_key_o,
  output logic                  gcm_cmd_aes256_o,
  output logic [95:0]           gcm_cmd_iv_o,
  output logic [127:0]          gcm_cmd_hkey_o,
  output logic                  gcm_cmd_decrypt_o,
  output logic [15:0]           gcm_cmd_aad_len_o,
  output logic [15:0]           gcm_cmd_text_len_o,
  output logic [4:0]            gcm_cmd_tag_len_o,
  output logic [127:0]          gcm_cmd_expected_tag_o,
  output logic [127:0]          gcm_in_tdata_o,
  output logic [15:0]           gcm_in_tkeep_o,
  output logic                  gcm_in_tlast_o,
  output logic                  gcm_in_tvalid_o,
  input  logic                  gcm_in_tready_i,
  input  logic [127:0]          gcm_out_tdata_i,
  input  logic [15:0]           gcm_out_tkeep_i,
  input  logic                  gcm_out_tlast_i,
  input  logic                  gcm_out_tvalid_i,
  output logic                  gcm_out_tready_o,
  input  logic [127:0]          gcm_tag_i,
  input  logic                  gcm_tag_ok_i,
  input  logic                  gcm_tag_valid_i,
  output logic                  gcm_tag_ready_o,

  // AXI4 master (512-bit data, 64-bit addresses, INCR bursts of 64-byte beats)
  output logic [63:0]           m_axi_araddr_o,
  output logic [7:0]            m_axi_arlen_o,
  output logic                  m_axi_arvalid_o,
  input  logic                  m_axi_arready_i,
  input  logic [511:0]          m_axi_rdata_i,
  input  logic [1:0]            m_axi_rresp_i,
  input  logic                  m_axi_rlast_i,
  input  logic                  m_axi_rvalid_i,
  output logic                  m_axi_rready_o,
  output logic [63:0]           m_axi_awaddr_o,
  output logic [7:0]            m_axi_awlen_o,
  output logic                  m_axi_awvalid_o,
  input  logic                  m_axi_awready_i,
  output logic [511:0]          m_axi_wdata_o,
  output logic [63:0]           m_axi_wstrb_o,
  output logic                  m_axi_wlast_o,
  output logic                  m_axi_wvalid_o,
  input  logic                  m_axi_wready_i,
  input  logic [1:0]            m_axi_bresp_i,
  input  logic                  m_axi_bvalid_i,
  output logic                  m_axi_bready_o
);

  localparam int unsigned BufAw = $clog2(MaxPacket + 128);
  localparam int unsigned BufBytes = 1 << BufAw;
  localparam int unsigned HdrBytes = 64;  // header image (outer IP [+UDP] + ESP: at most 64)
  localparam logic [15:0] MaxPkt = 16'(MaxPacket);
  localparam logic [31:0] SlotMask = 32'(SaSlots - 1);
  localparam int unsigned Bw = 64;  // AXI data bytes per beat

  localparam int unsigned Slots = 4;  // packet buffer entries (ibuf/obuf pairs) in flight
  localparam int unsigned SlotAw = 2;

  typedef enum logic [5:0] {
    SIdle, SWaitSa, SNext, SWalk, SParse, SSa, SCheck, SHprep, SCopy, SHdr, SCrypt, SWtag,
    STag, SCsum, SCsumW, STrail, SPadchk, SInner, SPatch, SRck0, SRck1, SRck2, SFin, SEvt,
    SDrain, SUcsum, SUcsumChk
  } st_e;

  // reader (AXI read of records into ibuf entries) and writer (result records out of
  // ibuf/obuf entries) run beside the packet FSM; see the header.
  typedef enum logic [2:0] {RIdle, RHdrAr, RHdrR, RDatAr, RDatR} rst_e;
  typedef enum logic [1:0] {WIdle, WAw, WW, WB} wst_e;

  typedef struct packed {
    rst_e         st;
    logic         halt;         // stopped by a bad record / bus error until the next batch
    logic [2:0]   seq;          // entries filled (mod 8)
    logic [31:0]  idx;          // records read
    logic [63:0]  ptr;          // next record header (16-byte aligned)
    logic [15:0]  len;
    logic [63:0]  addr;         // next data burst (64-byte aligned)
    logic [15:0]  left;         // data beats left
    logic [7:0]   blen;
    logic [17:0]  woff;         // entry offset of the current beat's byte 0 (may be negative)
    logic         err;
  } rd_t;

  typedef struct packed {
    wst_e         st;
    logic [2:0]   seq;          // entries written (mod 8)
    logic [31:0]  idx;          // records written (OUT_COUNT)
    logic [31:0]  off;          // bytes written (OUT_BYTES)
    logic         err;          // write BUS_ERROR
    logic [63:0]  addr;         // current burst (64-byte aligned)
    logic [15:0]  left;         // beats left
    logic [7:0]   blen;
    logic [7:0]   bi;
    logic [15:0]  b;            // beat of the record
    logic [5:0]   ro;           // record start within its first beat
  } wr_t;

  // batch state (not per packet)
  typedef struct packed {
    logic         start_pend;
    logic         done;
    logic [3:0]   bcode;
    logic [15:0]  brec;
    logic [31:0]  rec_idx;      // records taken by the front end
    logic [31:0]  rec_cnt;
    logic [2:0]   fseq;         // entries taken by the front end (mod 8)
    logic [2:0]   cseq;         // entries past FIN/EVT, handed to the writer (mod 8)
    logic [63:0]  out_base;
    logic [31:0]  out_size;
    logic [31:0]  out_off;
    logic         dv;           // d holds a packet
    logic         young;        // c is younger than the packet in d
  } glb_t;

  // one packet (c: the FSM's packet; d: the parked one)
  typedef struct packed {
    st_e          st;
    logic [SlotAw-1:0] ent;
    logic [15:0]  rec;
    logic         pipe;         // parked while its crypt job runs (else: waiting for FIN order)
    logic         nodefer;      // re-run after RCK: waits for its tag in place
    logic         chk;          // inbound with a matched SA: RCK before FIN
    logic         rck_done;
    logic         pre_drop;     // CHECK dropped it (lifetime / short / replay)
    // record
    logic [15:0]  len;
    logic [15:0]  rslot;
    logic         dir;
    logic [31:0]  cookie;
    // IPv6 extension-header walk (model: WalkIpv6Chain / FindIpv6EspInsertPoint)
    logic [15:0]  w_off;        // offset of the header being walked; at the end: upper layer
    logic [7:0]   w_type;       // its type; at the end: upper-layer protocol
    logic [15:0]  w_nhf;        // offset of the Next Header field that names w_type
    logic [4:0]   w_cnt;
    logic         w_err;
    logic         w_frag;
    logic [15:0]  w_ins;        // outbound transport: ESP insert offset
    logic [15:0]  w_insnhf;     // and the Next Header field that is patched to 50/17
    // parse
    logic         v6;
    logic [15:0]  hl;           // IP header bytes in front of ESP/UDP (IPv6: with extensions)
    logic [15:0]  nhf;          // Next Header field patched by the transport rebuild
    logic [15:0]  ip_len;
    logic         is_udp;
    logic [15:0]  dport;
    logic [15:0]  esp_off;
    logic [15:0]  esp_len;
    logic [31:0]  spi;
    logic [31:0]  seq_lo;
    logic [1:0]   ecn_out;
    logic [127:0] pdst;
    // packet
    logic [7:0]   status;
    logic [15:0]  res_len;
    logic [15:0]  res_slot;
    logic [31:0]  res_seq;
    logic         from_ibuf;
    logic         accept;       // SA state changes at FIN
    logic         dummy;
    logic [15:0]  n;
    logic [7:0]   p;
    logic [15:0]  e;
    logic [4:0]   k;
    logic [15:0]  pay_off;
    logic [15:0]  hdr_len;
    logic [15:0]  out_len;
    logic [15:0]  dst_off;
    logic [7:0]   nh;
    logic [63:0]  seq64;
    sa_t          sa;
    logic [ReplayBits-1:0] bm;
    logic [HdrBytes*8-1:0] hdr;
    logic [15:0]  img;          // absolute offset of hdr byte 0
    logic [15:0]  hdr_end;
    // crypt
    logic         cmd_sent;
    logic         job_sent;
    logic [159:0] pfx;          // wire order
    logic [4:0]   pfx_len;
    logic [15:0]  aad_len;
    logic         fsyn;         // outbound GCM: text = ibuf payload + padding + trailer
    logic [15:0]  txt_len;
    logic         c_ibuf;       // crypto source is ibuf (else obuf)
    logic [15:0]  c_src;        // buffer offset of the AAD buffer part and of the text
    logic [15:0]  c_dst;
    logic [95:0]  iv;           // wire order nonce
    logic [127:0] exp_tag;
    // passes
    logic [15:0]  pos;
    logic [31:0]  csum;
    st_e          st_after;     // state after the inbound UDP checksum check
    logic [1:0]   ecn_new;
    logic         ev_soft;
    logic         ev_hard;
    logic         ev_ovf;
  } ctx_t;

  // a crypt job for the feeder
  typedef struct packed {
    logic         v;
    logic [SlotAw-1:0] ent;
    logic [1:0]   fph;          // 0 AAD, 1 text
    logic [15:0]  fpos;
    logic [15:0]  aad_len;
    logic [15:0]  txt_len;
    logic [159:0] pfx;
    logic [4:0]   pfx_len;
    logic         fsyn;
    logic         c_ibuf;
    logic [15:0]  c_src;
    logic [15:0]  n;
    logic [7:0]   p;
    logic [7:0]   nh;
    logic [15:0]  pay_off;
  } job_t;

  glb_t g, n_g;
  ctx_t c, n_c;   // c = ctx_q, n_c = ctx_d
  ctx_t d, n_d;   // parked packet
  job_t fj, fq, n_fj, n_fq;  // feeder: current job, queued job
  rd_t  rq, rq_d;  // reader state
  wr_t  wq, wq_d;  // writer state

  logic [7:0] ibuf [Slots * BufBytes];
  logic [7:0] obuf [Slots * BufBytes];
  logic [SlotAw-1:0] pe;  // the packet FSM's entry
  logic [SlotAw-1:0] fe;  // the entry the front end takes next
  assign pe = c.ent;
  assign fe = g.fseq[SlotAw-1:0];

  // record fields (reader -> packet FSM) and result descriptors (packet FSM -> writer)
  logic [15:0] m_len [Slots];
  logic [15:0] m_rslot [Slots];
  logic        m_dir [Slots];
  logic [31:0] m_cookie [Slots];
  logic [3:0]  m_code [Slots];      // 0 ok, 2 BAD_RECORD, 3 BUS_ERROR
  logic [15:0] d_len [Slots];
  logic [7:0]  d_status [Slots];
  logic        d_dir [Slots];
  logic [15:0] d_slot [Slots];
  logic [31:0] d_cookie [Slots];
  logic [31:0] d_seq [Slots];
  logic        d_from_ibuf [Slots];
  logic [63:0] d_addr [Slots];

  // ---- buffer access helpers -----------------------------------------------------------------
  function automatic logic [BufAw-1:0] ba(input logic [15:0] a);
    logic unused_hi;
    unused_hi = ^a;  // addresses never exceed the buffer (lengths are checked against MaxPacket)
    return a[BufAw-1:0];
  endfunction

  function automatic logic [15:0] ceil16(input logic [15:0] x);
    return (x + 16'd15) >> 4;
  endfunction

  function automatic logic [15:0] round16(input logic [15:0] x);
    return (x + 16'd15) & 16'hFFF0;
  endfunction

  // obuf write port (one per cycle, 16 lanes at any byte offset)
  logic [15:0]      ow_en;
  logic [15:0]      ow_addr;
  logic [7:0]       ow_data [16];

  // second obuf write port: the crypt collector (gcm_core text out, outbound ICV)
  logic [15:0]       cw_en;
  logic [15:0]       cw_addr;
  logic [SlotAw-1:0] cw_ent;
  logic [7:0]        cw_data [16];

  always_ff @(posedge clk_i) begin : obuf_write
    for (int j = 0; j < 16; j++) begin
      if (ow_en[j]) obuf[{pe, ba(ow_addr + 16'(j))}] <= ow_data[j];
      if (cw_en[j]) obuf[{cw_ent, ba(cw_addr + 16'(j))}] <= cw_data[j];
    end
  end

  // ibuf write port: AXI read data (reader), 64 lanes at entry offset iw_off + lane
  logic        iw_en;
  logic [17:0] iw_off;
  always_ff @(posedge clk_i) begin : ibuf_write
    if (iw_en) begin
      for (int j = 0; j < int'(Bw); j++) begin
        logic [17:0] o;
        o = iw_off + 18'(j);
        if (o[17:16] == 2'b00) ibuf[{rq.seq[SlotAw-1:0], ba(o[15:0])}] <= m_axi_rdata_i[8*j +: 8];
      end
    end
  end

  function automatic logic [7:0] ib(input logic [15:0] a);
    return ibuf[{pe, ba(a)}];
  endfunction
  function automatic logic [7:0] ob(input logic [15:0] a);
    return obuf[{pe, ba(a)}];
  endfunction
  function automatic logic [15:0] ib16(input logic [15:0] a);
    return {ibuf[{pe, ba(a)}], ibuf[{pe, ba(a + 16'd1)}]};
  endfunction

  // first bytes of the packet FSM's entries (IP version/IHL, TOS/traffic class, flags)
  logic [7:0] ib0, ib1, ib6, ob0, ob1, fe0, fe6;
  assign ib0 = ibuf[{pe, BufAw'(0)}];
  assign ib1 = ibuf[{pe, BufAw'(1)}];
  assign ib6 = ibuf[{pe, BufAw'(6)}];
  assign ob0 = obuf[{pe, BufAw'(0)}];
  assign ob1 = obuf[{pe, BufAw'(1)}];
  assign fe0 = ibuf[{fe, BufAw'(0)}];
  assign fe6 = ibuf[{fe, BufAw'(6)}];

  // IPv6 extension headers the model walks (hop-by-hop, routing, fragment, destination options)
  function automatic logic v6ext(input logic [7:0] t);
    return (t == 8'd0) || (t == 8'd43) || (t == 8'd44) || (t == 8'd60);
  endfunction

  // ---- outer / input header parse (combinational over ibuf) ----------------------------------
  logic [3:0]  p_ver;
  logic [7:0]  p_hl;
  logic [15:0] p_tot4, p_pl6, p_iplen;
  logic        p_ok4, p_ok6, p_frag4, p_ck4;
  logic [31:0] p_sum4;
  always_comb begin : parse_ip
    p_ver  = ib0[7:4];
    p_hl   = {2'b0, ib0[3:0], 2'b0};
    p_tot4 = ib16(16'd2);
    p_pl6  = ib16(16'd4);
    p_ok4  = (c.len >= 16'd20) && (p_hl >= 8'd20) && (p_tot4 >= {8'h0, p_hl}) &&
             (p_tot4 <= c.len);
    p_ok6  = (c.len >= 16'd40) && ({16'h0, p_pl6} + 32'd40 <= {16'h0, c.len});
    p_frag4 = (ib16(16'd6) & 16'h3FFF) != 16'h0;
    p_sum4 = '0;
    for (int i = 0; i < 30; i++) begin
      if (2 * i < int'(p_hl)) p_sum4 = p_sum4 + {16'h0, ib16(16'(2 * i))};
    end
    p_ck4  = (csum_fold(p_sum4) == 16'hFFFF);
    p_iplen = (p_ver == 4'd6) ? p_pl6 + 16'd40 : p_tot4;
  end

  // ---- header image (outbound outer IP [+UDP] + ESP header; transport: UDP + ESP only) -------
  // Transport headers (the packet's own IP header and IPv6 extension headers, any length) are
  // copied from ibuf by HDR with the fields below patched in.
  logic [HdrBytes*8-1:0] hdr_comb;
  logic [15:0] img_comb;
  logic [31:0] hsum;
  logic [15:0] hck;
  logic [7:0]  out_proto;
  logic [7:0]  tos_in;
  logic        df_in;
  logic [15:0] new_tot;
  logic [15:0] new_pl6;
  logic [7:0]  new_proto;
  always_comb begin : header_image
    hdr_comb  = '0;
    img_comb  = c.sa.transport ? c.hdr_len : 16'h0;
    out_proto = c.sa.udp ? 8'd17 : 8'd50;
    tos_in    = c.v6 ? {ib0[3:0], ib1[7:4]} : ib(16'd1);
    df_in     = c.v6 ? 1'b1 : ib6[6];
    // transport IPv4 header: new total length / protocol, checksum over the patched header
    new_tot   = c.dir ? c.hl + c.n : c.out_len;
    new_pl6   = c.dir ? c.hl + c.n - 16'd40 : c.out_len - 16'd40;
    new_proto = c.dir ? c.nh : out_proto;
    hsum = '0;
    if (c.sa.transport) begin
      for (int i = 0; i < 30; i++) begin
        if (2 * i < int'(c.hl)) begin
          if (i == 1) hsum = hsum + {16'h0, new_tot};
          else if (i == 4) hsum = hsum + {16'h0, ib(16'd8), new_proto};
          else if (i != 5) hsum = hsum + {16'h0, ib16(16'(2 * i))};
        end
      end
    end else begin
      hsum = {16'h0, 8'h45, tos_in} + {16'h0, c.out_len} + {16'h0, c.sa.ip_id} +
             {16'h0, 1'b0, df_in, 14'h0} + {16'h0, 8'd64, out_proto} +
             {16'h0, c.sa.src[127:112]} + {16'h0, c.sa.src[111:96]} +
             {16'h0, c.sa.dst[127:112]} + {16'h0, c.sa.dst[111:96]};
    end
    hck = ~csum_fold(hsum);
    for (int i = 0; i < int'(HdrBytes); i++) begin
      logic [7:0] b;
      logic [15:0] ii;
      logic [15:0] j;
      ii = 16'(i) + img_comb;
      b = 8'h0;
      if (!c.sa.transport && ii < c.hdr_len) begin
        if (!c.sa.ipv6) begin
          unique case (i)
            0: b = 8'h45;
            1: b = tos_in;
            2: b = c.out_len[15:8];
            3: b = c.out_len[7:0];
            4: b = c.sa.ip_id[15:8];
            5: b = c.sa.ip_id[7:0];
            6: b = {1'b0, df_in, 6'h0};
            8: b = 8'd64;
            9: b = out_proto;
            10: b = hck[15:8];
            11: b = hck[7:0];
            default: begin
              if (i >= 12 && i < 16) b = c.sa.src[127 - 8 * (i - 12) -: 8];
              else if (i >= 16 && i < 20) b = c.sa.dst[127 - 8 * (i - 16) -: 8];
            end
          endcase
        end else begin
          unique case (i)
            0: b = {4'h6, tos_in[7:4]};
            1: b = {tos_in[3:0], 4'h0};
            4: b = 8'((c.out_len - 16'd40) >> 8);
            5: b = 8'(c.out_len - 16'd40);
            6: b = out_proto;
            7: b = 8'd64;
            default: begin
              if (i >= 8 && i < 24) b = c.sa.src[127 - 8 * (i - 8) -: 8];
              else if (i >= 24 && i < 40) b = c.sa.dst[127 - 8 * (i - 24) -: 8];
            end
          endcase
        end
      end
      // outbound: UDP header, then ESP header
      if (!c.dir && ii >= c.hdr_len) begin
        j = ii - c.hdr_len;
        if (c.sa.udp && j < 16'd8) begin
          unique case (j[2:0])
            3'd0: b = c.sa.sport[15:8];
            3'd1: b = c.sa.sport[7:0];
            3'd2: b = c.sa.dport[15:8];
            3'd3: b = c.sa.dport[7:0];
            3'd4: b = 8'((c.out_len - c.hdr_len) >> 8);
            3'd5: b = 8'(c.out_len - c.hdr_len);
            default: b = 8'h0;
          endcase
        end else begin
          j = ii - c.esp_off;
          if (j < 16'd4) b = c.sa.spi[31 - 8 * int'(j[1:0]) -: 8];
          else if (j < 16'd8) b = c.seq64[31 - 8 * int'(j[1:0]) -: 8];
          else if (j < 16'd16) b = c.seq64[63 - 8 * int'(j[2:0]) -: 8];
        end
      end
      hdr_comb[8 * i +: 8] = b;
    end
  end

  // ---- outbound packet checks and sizes (from ibuf + SA) -------------------------------------
  logic        o_malformed, o_toobig;
  logic [15:0] o_pay_off, o_n, o_e, o_hdr_len, o_esp_off, o_out_len, o_nhf;
  logic [7:0]  o_p, o_nh;
  logic [4:0]  o_k;
  always_comb begin : outbound_sizes
    o_malformed = 1'b0;
    if (p_ver == 4'd4) o_malformed = !p_ok4;
    else if (p_ver == 4'd6) o_malformed = !p_ok6;
    else o_malformed = 1'b1;
    // transport: ESP goes after the IPv4 header, or after the IPv6 header and the extension
    // headers that precede it (hop-by-hop, routing, destination options before a routing
    // header), as the model's FindIpv6EspInsertPoint; fragments and broken chains are malformed
    o_pay_off = c.sa.transport ? ((p_ver == 4'd6) ? c.w_ins : {8'h0, p_hl}) : 16'd0;
    o_nhf     = (p_ver == 4'd6) ? c.w_insnhf : 16'd9;
    o_nh      = c.sa.transport ? ib(o_nhf) : ((p_ver == 4'd6) ? 8'd41 : 8'd4);
    if (c.sa.transport) begin
      if ((p_ver == 4'd6) != c.sa.ipv6) o_malformed = 1'b1;
      if (p_ver == 4'd4 && p_frag4) o_malformed = 1'b1;
      if (p_ver == 4'd6 && (c.w_err || c.w_frag)) o_malformed = 1'b1;
      if (o_nh == 8'd50) o_malformed = 1'b1;  // already ESP
    end
    o_n       = p_iplen - o_pay_off;
    o_p       = {6'h0, 2'(3'd4 - 3'((o_n + 16'd2) & 16'd3))};
    o_e       = o_n + {8'h0, o_p} + 16'd2;
    o_k       = {c.sa.icv_words[2:0], 2'b00};
    o_hdr_len = c.sa.transport ? o_pay_off : (c.sa.ipv6 ? 16'd40 : 16'd20);
    o_esp_off = o_hdr_len + (c.sa.udp ? 16'd8 : 16'd0);
    o_out_len = o_esp_off + 16'd16 + o_e + {11'h0, o_k};
    o_toobig  = ({16'h0, o_esp_off} + 32'd16 + {16'h0, o_e} + {27'h0, o_k}) > 32'(MaxPacket);
  end

  // ---- inbound checks on the SA (CHECK on the SA read by the front end, RCK on a fresh one) --
  logic        i_match, i_dst_eq, i_port_ok, i_short, i_replay;
  logic [63:0] i_seq;
  logic [4:0]  i_k;
  logic [1023:0] bm_wide;
  always_comb begin : inbound_checks
    i_dst_eq  = c.sa.ipv6 ? (c.sa.dst == c.pdst) : (c.sa.dst[127:96] == c.pdst[127:96]);
    i_match   = (c.sa.state != SaFree) && (c.sa.spi == c.spi) && (c.sa.ipv6 == c.v6) &&
                i_dst_eq && (c.sa.udp == c.is_udp);
    // ESP-in-UDP is recognised on port 4500 only (docs/ENGINE_SEMANTICS.md); other UDP goes to
    // software as NOT_ESP, as in the model.
    i_port_ok = !c.is_udp || (c.dport == 16'd4500);
    i_k       = {c.sa.icv_words[2:0], 2'b00};
    i_short   = {16'h0, c.esp_len} < 32'd18 + {27'h0, i_k};
    i_seq     = c.sa.esn ? esn_infer(c.sa.seq, c.sa.window, c.seq_lo) : {32'h0, c.seq_lo};
    bm_wide   = 1024'(c.bm);
    i_replay  = replay_check(c.sa.seq, c.sa.window, bm_wide, i_seq);
  end

  // ---- lifetime update (FIN) -----------------------------------------------------------------
  sa_t         sa_new;
  logic [ReplayBits-1:0] bm_new;
  logic        l_soft, l_hard, l_ovf;
  logic [63:0] l_pkts, l_bytes, l_last;
  always_comb begin : lifetime_update
    logic [1023:0] w;
    logic [63:0] dd;
    dd      = '0;
    sa_new  = c.sa;
    l_pkts  = c.sa.pkts + 64'd1;
    l_bytes = c.sa.bytes + {48'h0, c.e};
    sa_new.pkts  = l_pkts;
    sa_new.bytes = l_bytes;
    l_soft = (c.sa.state == SaActive) &&
             ((c.sa.soft_pkts != 64'h0 && l_pkts >= c.sa.soft_pkts) ||
              (c.sa.soft_bytes != 64'h0 && l_bytes >= c.sa.soft_bytes));
    l_hard = (c.sa.hard_pkts != 64'h0 && l_pkts >= c.sa.hard_pkts) ||
             (c.sa.hard_bytes != 64'h0 && l_bytes >= c.sa.hard_bytes);
    l_last = c.sa.esn ? 64'hFFFF_FFFF_FFFF_FFFF : 64'h0000_0000_FFFF_FFFF;
    l_ovf  = !c.dir && (c.seq64 == l_last);
    if (l_soft) sa_new.state = SaSoft;
    if (l_hard || l_ovf) sa_new.state = SaHard;
    if (!c.dir) begin
      sa_new.seq = c.seq64;
      if (l_ovf) sa_new.seq_ovf = 1'b1;
      if (!c.sa.transport && !c.sa.ipv6) sa_new.ip_id = c.sa.ip_id + 16'd1;
    end
    // inbound window update (SPEC 1.8)
    w = bm_wide;
    if (c.dir && c.sa.window != 16'h0) begin
      if (c.seq64 > c.sa.seq) begin
        dd = c.seq64 - c.sa.seq;
        if (dd >= {48'h0, c.sa.window}) w = '0;
        else w = w << dd[9:0];
        w[0] = 1'b1;
        sa_new.seq = c.seq64;
      end else begin
        dd = c.sa.seq - c.seq64;
        if (dd < {48'h0, c.sa.window}) w[dd[9:0]] = 1'b1;
      end
      w = w & window_mask(c.sa.window);
    end
    bm_new = w[ReplayBits-1:0];
  end

  // ---- feeder: crypto beats of job fj -------------------------------------------------------
  logic [127:0] f_data;
  logic [15:0]  f_keep;
  logic         f_last_part, f_tlast;
  logic [15:0]  f_left;
  always_comb begin : feed_beat
    f_data = '0;
    f_left = (fj.fph == 2'd0) ? fj.aad_len - fj.fpos : fj.txt_len - fj.fpos;
    f_keep = (f_left >= 16'd16) ? 16'hFFFF : 16'((17'h1 << f_left[3:0]) - 17'h1);
    f_last_part = (f_left <= 16'd16);
    f_tlast = f_last_part && ((fj.fph == 2'd1) || (fj.txt_len == 16'h0));
    for (int j = 0; j < 16; j++) begin
      logic [15:0] v;
      logic [7:0]  b;
      logic [15:0] a;
      v = fj.fpos + 16'(j);
      a = (fj.fph == 2'd0) ? fj.c_src + v - {11'h0, fj.pfx_len} : fj.c_src + v;
      if (fj.fph == 2'd0 && v < {11'h0, fj.pfx_len}) b = fj.pfx[8 * v[4:0] +: 8];
      else if (fj.fph != 2'd0 && fj.fsyn) begin
        // outbound GCM: payload from ibuf, then padding 1, 2, ..., pad length, next header
        if (v < fj.n) b = ibuf[{fj.ent, ba(fj.pay_off + v)}];
        else if (v < fj.n + {8'h0, fj.p}) b = 8'(v - fj.n + 16'd1);
        else if (v == fj.n + {8'h0, fj.p}) b = fj.p;
        else b = fj.nh;
      end else b = fj.c_ibuf ? ibuf[{fj.ent, ba(a)}] : obuf[{fj.ent, ba(a)}];
      if (f_keep[j]) f_data[8 * j +: 8] = b;
    end
  end

  logic   job_push;   // the packet FSM hands its job (n_c's fields) to the feeder queue
  job_t   job_new;
  always_comb begin : feeder
    n_fj = fj;
    n_fq = fq;
    if (fj.v && gcm_in_tready_i) begin
      n_fj.fpos = fj.fpos + 16'd16;
      if (f_last_part) begin
        n_fj.fpos = '0;
        if (fj.fph == 2'd0 && fj.txt_len != 16'h0) n_fj.fph = 2'd1;
        else n_fj.v = 1'b0;
      end
    end
    if (!n_fj.v && fq.v) begin
      n_fj   = fq;
      n_fq.v = 1'b0;
    end
    if (job_push) n_fq = job_new;
  end

  // ---- main FSM ---------------------------------------------------------------------------
  logic [7:0]  burst_rd, burst_wr;
  logic [15:0] rec_size;
  logic        rec_fits;
  evt_t        ev;
  logic [SlotAw-1:0] we;  // the writer's entry
  assign we = wq.seq[SlotAw-1:0];

  logic [11:0] to4k_unused;
  always_comb begin : burst_sizes
    logic [12:0] to4k_r, to4k_w;
    to4k_r = 13'h1000 - {1'b0, rq.addr[11:0]};
    to4k_w = 13'h1000 - {1'b0, wq.addr[11:0]};
    burst_rd = 8'd64;
    if ({9'h0, to4k_r[12:6]} < 16'(burst_rd)) burst_rd = {1'b0, to4k_r[12:6]};
    if (rq.left < 16'(burst_rd)) burst_rd = rq.left[7:0];
    burst_wr = 8'd64;
    if ({9'h0, to4k_w[12:6]} < 16'(burst_wr)) burst_wr = {1'b0, to4k_w[12:6]};
    if (wq.left < 16'(burst_wr)) burst_wr = wq.left[7:0];
    to4k_unused = {to4k_r[5:0], to4k_w[5:0]};
  end

  // OUT_FULL (docs/BUFFERS.md): the record needs 16 + round16(length + 96) bytes of room, the
  // largest result of `length` input bytes, whatever its actual result (as the model decides up
  // front); checked at FIN, before the packet's first state change
  logic [15:0] rec_need;
  assign rec_size = 16'd16 + round16(c.res_len);
  assign rec_need = 16'd16 + round16(c.len + 16'd96);
  assign rec_fits = ({16'h0, g.out_off} + 48'(rec_need)) <= {16'h0, g.out_size};

  // packet FSM -> writer: a result descriptor when a packet leaves SEvt
  logic p_push;
  // packet FSM -> collector: a crypt job (entry pe) when the packet enters SCrypt
  logic j_push;
  logic [Slots-1:0] pend_q;     // entry has a crypt job whose tag has not arrived
  logic j_ok [Slots];           // tag_ok of the entry's job
  logic fq_free;                // the feeder queue takes a job this cycle

  always_comb begin : feeder_free
    logic fj_ends;
    fj_ends = fj.v && gcm_in_tready_i && f_last_part &&
              !(fj.fph == 2'd0 && fj.txt_len != 16'h0);
    fq_free = !fq.v || !fj.v || fj_ends;
  end

  always_comb begin : main_fsm
    logic park_to_next;
    n_g = g;
    n_c = c;
    n_d = d;
    park_to_next = 1'b0;
    ow_en   = '0;
    ow_addr = '0;
    for (int j = 0; j < 16; j++) ow_data[j] = 8'h0;
    p_push  = 1'b0;
    job_push = 1'b0;
    job_new = '0;
    sa_rd_o = 1'b0;
    sa_dir_o = c.dir;
    sa_slot_o = c.dir ? 16'(c.spi & SlotMask) : c.rslot;  // SParse overrides (inbound)
    sa_we_o = 1'b0;
    drop_inc_o = '0;
    pkt_inc_o = '0;
    evt_valid_o = 1'b0;
    ev = '0;
    ev.dir = c.dir;
    ev.slot = c.res_slot;
    ev.spi = c.sa.spi;
    ev.pkts = c.sa.pkts;
    ev.bytes = c.sa.bytes;
    if (start_i) begin
      n_g.start_pend = 1'b1;
      n_g.done = 1'b0;  // DONE is cleared by START
    end

    unique case (c.st)
      SIdle: begin
        if (g.start_pend) begin
          n_g.done = 1'b0;
          n_c.st = SWaitSa;
        end
      end
      SWaitSa: begin
        if (!sa_busy_i) begin
          n_g.start_pend = 1'b0;
          n_g.rec_idx  = '0;
          n_g.rec_cnt  = in_count_i;
          n_g.fseq     = '0;
          n_g.cseq     = '0;
          n_g.out_base = out_addr_i;
          n_g.out_size = out_size_i;
          n_g.out_off  = '0;
          n_g.bcode    = 4'd0;
          n_g.brec     = '0;
          n_g.dv       = 1'b0;
          n_g.young    = 1'b0;
          n_c.st       = SNext;
        end
      end
      SNext: begin
        // the next record, once the reader has it in entry fe; at the batch end or a bad
        // record, a parked packet finishes first
        if (g.rec_idx == g.rec_cnt || wq.err) begin
          if (g.dv) begin
            n_c = d;
            n_g.dv = 1'b0;
            n_g.young = 1'b0;
          end else n_c.st = SDrain;
        end else if (g.fseq != rq.seq) begin
          if (m_code[fe] != 4'd0) begin
            if (g.dv) begin
              n_c = d;
              n_g.dv = 1'b0;
              n_g.young = 1'b0;
            end else begin
              n_g.bcode = m_code[fe];
              n_g.brec  = g.rec_idx[15:0];
              n_c.st    = SDrain;
            end
          end else begin
            n_c.ent    = fe;
            n_c.rec    = g.rec_idx[15:0];
            n_c.len    = m_len[fe];
            n_c.rslot  = m_rslot[fe];
            n_c.dir    = m_dir[fe];
            n_c.cookie = m_cookie[fe];
            n_c.pipe   = 1'b0;
            n_c.nodefer = 1'b0;
            n_c.chk    = 1'b0;
            n_c.rck_done = 1'b0;
            n_c.pre_drop = 1'b0;
            n_g.fseq    = g.fseq + 3'd1;
            n_g.rec_idx = g.rec_idx + 32'd1;
            n_g.young   = g.dv;
            // IPv6 extension-header walk state (no walk: upper layer at 40, named at 6)
            n_c.w_off    = 16'd40;
            n_c.w_type   = fe6;
            n_c.w_nhf    = 16'd6;
            n_c.w_cnt    = '0;
            n_c.w_err    = 1'b0;
            n_c.w_frag   = 1'b0;
            n_c.w_ins    = 16'd40;
            n_c.w_insnhf = 16'd6;
            n_c.st = (fe0[7:4] == 4'd6 && v6ext(fe6)) ? SWalk : SParse;
          end
        end
      end
      SWalk: begin : walk
        // one extension header per cycle (model: WalkIpv6Chain, at most 16 headers, bounded by
        // the IPv6 payload length; hop-by-hop only first; fragment length 8)
        logic [15:0] hlen;
        hlen = (c.w_type == 8'd44) ? 16'd8 : ({8'h0, ib(c.w_off + 16'd1)} + 16'd1) << 3;
        if (!v6ext(c.w_type)) begin
          n_c.st = SParse;
        end else if (c.w_cnt == 5'd16 || {16'h0, c.w_off} + 32'd8 > {16'h0, p_iplen} ||
                     {16'h0, c.w_off} + {16'h0, hlen} > {16'h0, p_iplen} ||
                     (c.w_type == 8'd0 && c.w_off != 16'd40)) begin
          n_c.w_err = 1'b1;
          n_c.st = SParse;
        end else begin
          if (c.w_type == 8'd44) n_c.w_frag = 1'b1;
          // insert point: after a leading hop-by-hop header, and after the last routing header
          // (destination options before it and hop-by-hop are skipped with it)
          if (c.w_type == 8'd43 || c.w_type == 8'd0) begin
            n_c.w_ins    = c.w_off + hlen;
            n_c.w_insnhf = c.w_off;
          end
          n_c.w_nhf  = c.w_off;
          n_c.w_type = ib(c.w_off);
          n_c.w_off  = c.w_off + hlen;
          n_c.w_cnt  = c.w_cnt + 5'd1;
        end
      end
      SParse: begin
        // defaults of a result record
        n_c.status   = StOk;
        n_c.res_len  = '0;
        n_c.res_slot = c.dir ? 16'hFFFF : c.rslot;
        n_c.res_seq  = '0;
        n_c.from_ibuf = 1'b0;
        n_c.accept   = 1'b0;
        n_c.dummy    = 1'b0;
        n_c.e        = '0;
        n_c.v6       = (p_ver == 4'd6);
        n_c.hl       = (p_ver == 4'd6) ? c.w_off : {8'h0, p_hl};
        n_c.nhf      = (p_ver == 4'd6) ? c.w_nhf : 16'd9;
        n_c.ip_len   = p_iplen;
        n_c.pdst     = (p_ver == 4'd6) ?
            {ib(16'd24), ib(16'd25), ib(16'd26), ib(16'd27), ib(16'd28), ib(16'd29),
             ib(16'd30), ib(16'd31), ib(16'd32), ib(16'd33), ib(16'd34), ib(16'd35),
             ib(16'd36), ib(16'd37), ib(16'd38), ib(16'd39)} :
            {ib(16'd16), ib(16'd17), ib(16'd18), ib(16'd19), 96'h0};
        n_c.ecn_out  = (p_ver == 4'd6) ? ib1[5:4] : ib1[1:0];
        if (!c.dir) begin
          if ({16'h0, c.rslot} >= 32'(SaSlots)) begin
            n_c.status   = StNoSa;
            n_c.res_slot = 16'hFFFF;  // no such slot
            n_c.st = SFin;
          end else begin
            sa_rd_o = 1'b1;
            n_c.st = SSa;
          end
        end else begin : inbound_parse
          logic        bad;
          logic [7:0]  proto;
          logic [15:0] hl16, ulen, upay, eo;
          bad   = 1'b0;
          hl16  = (p_ver == 4'd6) ? c.w_off : {8'h0, p_hl};
          proto = (p_ver == 4'd6) ? c.w_type : ib(16'd9);
          if (p_ver == 4'd4) bad = !p_ok4 || !p_ck4 || p_frag4;
          else if (p_ver == 4'd6) bad = !p_ok6 || c.w_err || c.w_frag;
          else bad = 1'b1;
          ulen = ib16(hl16 + 16'd4);
          upay = p_iplen - hl16 - 16'd8;
          n_c.is_udp = (proto == 8'd17);
          n_c.dport  = ib16(hl16 + 16'd2);
          eo = (proto == 8'd17) ? hl16 + 16'd8 : hl16;
          n_c.esp_off = eo;
          n_c.esp_len = p_iplen - eo;
          n_c.spi    = {ib(eo), ib(eo + 16'd1), ib(eo + 16'd2), ib(eo + 16'd3)};
          n_c.seq_lo = {ib(eo + 16'd4), ib(eo + 16'd5), ib(eo + 16'd6), ib(eo + 16'd7)};
          sa_slot_o  = 16'({ib(eo), ib(eo + 16'd1), ib(eo + 16'd2), ib(eo + 16'd3)} & SlotMask);
          n_c.st = SFin;
          if (bad) begin
            n_c.status = StMalformed;
          end else if (proto == 8'd50) begin
            if (p_iplen - hl16 < 16'd8 ||
                {ib(eo), ib(eo + 16'd1), ib(eo + 16'd2), ib(eo + 16'd3)} == 32'h0) begin
              n_c.status = StMalformed;
            end else begin
              sa_rd_o = 1'b1;
              n_c.st = SSa;
            end
          end else if (proto == 8'd17) begin
            if (p_iplen - hl16 < 16'd8 || ulen != p_iplen - hl16) begin
              n_c.status = StMalformed;
            end else if ((upay == 16'd1 && ib(eo) == 8'hFF) ||
                         (upay >= 16'd4 && {ib(eo), ib(eo + 16'd1), ib(eo + 16'd2),
                                            ib(eo + 16'd3)} == 32'h0)) begin
              n_c.status = StNotEsp;
            end else if (upay < 16'd8) begin
              n_c.status = (ib16(hl16 + 16'd2) == 16'd4500) ? StMalformed : StNotEsp;
            end else begin
              sa_rd_o = 1'b1;
              n_c.st = SSa;
            end
          end else begin
            n_c.status = StMalformed;
          end
          if (n_c.status == StNotEsp) begin
            n_c.res_len = c.len;
            n_c.from_ibuf = 1'b1;
          end
          // A UDP datagram with a non-zero checksum is verified first (wrong: malformed).
          if (!bad && proto == 8'd17 && p_iplen - hl16 >= 16'd8 && ulen == p_iplen - hl16 &&
              ib16(hl16 + 16'd6) != 16'h0) begin
            sa_rd_o      = 1'b0;
            n_c.st_after = n_c.st;
            n_c.st       = SUcsum;
            n_c.csum     = '0;
            n_c.pos      = hl16 & 16'hFFF0;
          end
        end
      end
      SSa: begin
        n_c.sa = sa_i;
        n_c.bm = bm_i;
        n_c.st = SCheck;
      end
      SCheck: begin
        n_c.st = SFin;
        if (!c.dir) begin
          if (c.sa.state == SaFree) n_c.status = StNoSa;
          else if (c.sa.state == SaHard) n_c.status = StLifetime;
          else if (o_malformed) n_c.status = StMalformed;
          else if (o_toobig) n_c.status = StTooBig;
          else begin
            n_c.pay_off = o_pay_off;
            n_c.n       = o_n;
            n_c.p       = o_p;
            n_c.e       = o_e;
            n_c.k       = o_k;
            n_c.hdr_len = o_hdr_len;
            n_c.esp_off = o_esp_off;
            n_c.out_len = o_out_len;
            n_c.nh      = o_nh;
            n_c.nhf     = o_nhf;
            n_c.hl      = o_pay_off;
            n_c.seq64   = c.sa.seq + 64'd1;
            n_c.hdr_end = o_esp_off + 16'd16;
            n_c.st      = SHprep;
          end
        end else begin
          if (!i_port_ok) begin
            n_c.status    = StNotEsp;
            n_c.res_len   = c.len;
            n_c.from_ibuf = 1'b1;
          end else if (!i_match) begin
            n_c.status = StNoSa;
          end else begin
            n_c.res_slot = 16'(c.spi & SlotMask);
            n_c.chk      = 1'b1;
            n_c.pre_drop = 1'b1;
            if (c.sa.state == SaHard) n_c.status = StLifetime;
            else if (i_short) n_c.status = StMalformed;
            else if (i_replay) n_c.status = StReplay;
            else begin
              n_c.pre_drop = 1'b0;
              n_c.k     = i_k;
              n_c.e     = c.esp_len - 16'd16 - {11'h0, i_k};
              n_c.seq64 = i_seq;
              n_c.dst_off = c.sa.transport ? c.hl : 16'd0;
              n_c.hdr_len = c.hl;
              n_c.hdr_end = c.hl;
              n_c.pos   = '0;
              n_c.st    = c.sa.gmac ? SCopy : SCrypt;
            end
          end
        end
        n_c.pos = '0;
      end
      SHprep: begin
        n_c.hdr = hdr_comb;
        n_c.img = img_comb;
        n_c.pos = '0;
        n_c.st  = (c.dir || !c.sa.gmac) ? SHdr : SCopy;  // outbound GCM: no copy pass
      end
      SCopy: begin
        // outbound: payload + padding + pad length + next header at esp_off + 16
        // inbound GMAC: the clear span to dst_off
        logic [15:0] total;
        total = c.e;
        ow_addr = c.dir ? c.dst_off + c.pos : c.esp_off + 16'd16 + c.pos;
        for (int j = 0; j < 16; j++) begin
          logic [15:0] i;
          i = c.pos + 16'(j);
          ow_en[j] = (i < total);
          if (c.dir) ow_data[j] = ib(c.esp_off + 16'd16 + i);
          else if (i < c.n) ow_data[j] = ib(c.pay_off + i);
          else if (i < c.n + {8'h0, c.p}) ow_data[j] = 8'(i - c.n + 16'd1);
          else if (i == c.n + {8'h0, c.p}) ow_data[j] = c.p;
          else ow_data[j] = c.nh;
        end
        n_c.pos = c.pos + 16'd16;
        if (c.pos + 16'd16 >= total) begin
          n_c.pos = '0;
          n_c.st  = c.dir ? SCrypt : SHdr;
        end
      end
      SHdr: begin
        // bytes below hdr_len in transport mode: the packet's own headers with the length,
        // Next Header / protocol and IPv4 checksum fields patched; the rest from the image
        ow_addr = c.pos;
        for (int j = 0; j < 16; j++) begin
          logic [15:0] i;
          logic [5:0]  r;
          logic [7:0]  b;
          i = c.pos + 16'(j);
          r = 6'(i - c.img);
          b = c.hdr[8 * r +: 8];
          if (c.sa.transport && i < c.hdr_len) begin
            b = ib(i);
            if (!c.v6) begin
              if (i == 16'd2) b = new_tot[15:8];
              if (i == 16'd3) b = new_tot[7:0];
              if (i == 16'd9) b = new_proto;
              if (i == 16'd10) b = hck[15:8];
              if (i == 16'd11) b = hck[7:0];
            end else begin
              if (i == 16'd4) b = new_pl6[15:8];
              if (i == 16'd5) b = new_pl6[7:0];
              if (i == c.nhf) b = new_proto;
            end
          end
          ow_en[j] = (i < c.hdr_end);
          ow_data[j] = b;
        end
        n_c.pos = c.pos + 16'd16;
        if (c.pos + 16'd16 >= c.hdr_end) begin
          n_c.pos = '0;
          n_c.st  = c.dir ? SFin : SCrypt;
          if (c.dir) begin
            n_c.accept  = 1'b1;
            n_c.res_seq = c.seq64[31:0];
          end
        end
      end
      SCrypt: begin : crypt
        // The gcm_core command goes to the core's command FIFO, the AAD/text beats to the
        // feeder (queued behind the job being fed); the collector writes the text out and the
        // ICV into this entry. Outbound (except UDP over IPv6, whose checksum covers the
        // ciphertext) goes on to FIN: nothing it commits depends on gcm_core. Inbound parks
        // (waits for its tag in d) while the next packet's front end runs.
        logic cmd_done, job_done;
        if (gcm_cmd_ready_i) n_c.cmd_sent = 1'b1;
        cmd_done = c.cmd_sent || gcm_cmd_ready_i;
        job_done = c.job_sent;
        if (!c.job_sent && fq_free) begin
          job_push         = 1'b1;
          job_new.v        = 1'b1;
          job_new.ent      = c.ent;
          job_new.fph      = 2'd0;
          job_new.fpos     = '0;
          job_new.aad_len  = c.aad_len;
          job_new.txt_len  = c.txt_len;
          job_new.pfx      = c.pfx;
          job_new.pfx_len  = c.pfx_len;
          job_new.fsyn     = c.fsyn;
          job_new.c_ibuf   = c.c_ibuf;
          job_new.c_src    = c.c_src;
          job_new.n        = c.n;
          job_new.p        = c.p;
          job_new.nh       = c.nh;
          job_new.pay_off  = c.pay_off;
          n_c.job_sent     = 1'b1;
          job_done         = 1'b1;
        end
        if (cmd_done && job_done) begin
          if (!c.dir && !(c.sa.udp && c.sa.ipv6)) begin
            n_c.st      = SFin;
            n_c.accept  = 1'b1;
            n_c.res_len = c.out_len;
            n_c.res_seq = c.seq64[31:0];
          end else if (!c.dir || c.nodefer || (g.dv && !g.young)) begin
            n_c.st = SWtag;
          end else if (!g.dv) begin
            // park; the next record's front end runs meanwhile
            n_d     = n_c;
            n_d.st  = SWtag;
            n_d.pipe = 1'b1;
            n_g.dv  = 1'b1;
            park_to_next = 1'b1;
          end else begin
            // younger than the parked packet: park this one, finish the older one
            n_c      = d;
            n_d      = c;
            n_d.cmd_sent = 1'b1;
            n_d.job_sent = 1'b1;
            n_d.st   = SWtag;
            n_d.pipe = 1'b1;
            n_g.young = 1'b0;
          end
        end
      end
      SWtag: begin
        // the entry's tag arrived (collector)
        if (!pend_q[pe]) begin
          n_c.pos = '0;
          if (!c.dir) n_c.st = STag;
          else if (!j_ok[pe]) begin
            n_c.status = StAuth;
            n_c.st = SFin;
          end else n_c.st = STrail;
        end
      end
      STag: begin
        // outbound UDP over IPv6: the ICV is in obuf (collector); checksum pass next
        n_c.csum = '0;
        n_c.pos  = c.hdr_len & 16'hFFF0;
        if (c.sa.udp && c.sa.ipv6) n_c.st = SCsum;
        else begin
          n_c.st      = SFin;
          n_c.accept  = 1'b1;
          n_c.res_len = c.out_len;
          n_c.res_seq = c.seq64[31:0];
        end
      end
      SCsum: begin
        logic [31:0] s;
        s = c.csum;
        for (int m = 0; m < 8; m++) begin
          logic [15:0] a;
          logic [7:0] hi, lo;
          a  = c.pos + 16'(2 * m);
          hi = (a >= c.hdr_len && a < c.out_len) ? ob(a) : 8'h0;
          lo = (a + 16'd1 >= c.hdr_len && a + 16'd1 < c.out_len) ? ob(a + 16'd1) : 8'h0;
          s  = s + {16'h0, hi, lo};
        end
        n_c.csum = s;
        n_c.pos  = c.pos + 16'd16;
        if (c.pos + 16'd16 >= c.out_len) n_c.st = SCsumW;
      end
      SCsumW: begin
        logic [31:0] s;
        logic [15:0] ck;
        s = c.csum + {16'h0, c.out_len - c.hdr_len} + 32'd17;
        for (int i = 0; i < 8; i++) begin
          s = s + {16'h0, c.sa.src[127 - 16 * i -: 16]} + {16'h0, c.sa.dst[127 - 16 * i -: 16]};
        end
        ck = ~csum_fold(s);
        if (ck == 16'h0) ck = 16'hFFFF;
        ow_addr = c.hdr_len + 16'd6;
        ow_en = 16'h0003;
        ow_data[0] = ck[15:8];
        ow_data[1] = ck[7:0];
        n_c.st      = SFin;
        n_c.accept  = 1'b1;
        n_c.res_len = c.out_len;
        n_c.res_seq = c.seq64[31:0];
      end
      STrail: begin
        n_c.p  = ob(c.dst_off + c.e - 16'd2);
        n_c.nh = ob(c.dst_off + c.e - 16'd1);
        n_c.pos = '0;
        if ({8'h0, ob(c.dst_off + c.e - 16'd2)} + 16'd2 > c.e) begin
          n_c.status = StMalformed;
          n_c.st = SFin;
        end else begin
          n_c.n  = c.e - 16'd2 - {8'h0, ob(c.dst_off + c.e - 16'd2)};
          n_c.st = SPadchk;
        end
      end
      SPadchk: begin
        logic bad;
        bad = 1'b0;
        for (int j = 0; j < 16; j++) begin
          logic [15:0] i;
          i = c.pos + 16'(j);
          if (i < {8'h0, c.p} && ob(c.dst_off + c.n + i) != 8'(i + 16'd1)) bad = 1'b1;
        end
        n_c.pos = c.pos + 16'd16;
        if (bad) begin
          n_c.status = StMalformed;
          n_c.st = SFin;
        end else if (c.pos + 16'd16 >= {8'h0, c.p}) begin
          n_c.st = SInner;
        end
      end
      SInner: begin : inner
        logic [3:0]  iv;
        logic [15:0] tot, ihl;
        logic [1:0]  ie, ne;
        logic        bad, drop_ce;
        iv  = ob0[7:4];
        ihl = {10'h0, ob0[3:0], 2'b00};
        tot = {ob(16'd2), ob(16'd3)};
        ie  = (c.nh == 8'd41) ? ob1[5:4] : ob1[1:0];
        drop_ce = (c.ecn_out == 2'b11) && (ie == 2'b00);
        ne  = ie;
        if (c.ecn_out == 2'b11) ne = 2'b11;
        else if (ie == 2'b10 && c.ecn_out == 2'b01) ne = 2'b01;
        n_c.ecn_new = ne;
        bad = 1'b0;
        n_c.st = SFin;
        if (c.nh == 8'd59) begin
          n_c.dummy   = 1'b1;
          n_c.accept  = 1'b1;
          n_c.res_seq = c.seq64[31:0];
        end else if (c.sa.transport) begin
          n_c.st = SHprep;
          n_c.res_len = c.hl + c.n;
        end else begin
          if (c.nh == 8'd4) begin
            bad = (c.n < 16'd20) || (iv != 4'd4) || (ihl < 16'd20) || (tot < ihl) ||
                  (tot > c.n);
            n_c.res_len = tot;
          end else if (c.nh == 8'd41) begin
            bad = (c.n < 16'd40) || (iv != 4'd6) ||
                  ({16'h0, ob(16'd4), ob(16'd5)} + 32'd40 > {16'h0, c.n});
            n_c.res_len = {ob(16'd4), ob(16'd5)} + 16'd40;
          end else begin
            bad = 1'b1;
          end
          if (bad || drop_ce) begin
            n_c.status  = StMalformed;
            n_c.res_len = '0;
          end else begin
            n_c.accept  = 1'b1;
            n_c.res_seq = c.seq64[31:0];
            if (ne != ie) n_c.st = SPatch;
          end
        end
      end
      SPatch: begin
        // RFC 6040 decapsulation: inner ECN rewritten; IPv4 checksum updated (RFC 1624 eq. 3)
        logic [7:0]  t;
        logic [15:0] hc, m0, m1;
        logic [31:0] s;
        ow_addr = 16'h0;
        if (c.nh == 8'd4) begin
          t  = {ob1[7:2], c.ecn_new};
          hc = {ob(16'd10), ob(16'd11)};
          m0 = {ob(16'd0), ob(16'd1)};
          m1 = {ob(16'd0), t};
          s  = {16'h0, ~hc} + {16'h0, ~m0} + {16'h0, m1};
          hc = ~csum_fold(s);
          ow_en = 16'h0C02;
          ow_data[1]  = t;
          ow_data[10] = hc[15:8];
          ow_data[11] = hc[7:0];
        end else begin
          ow_en = 16'h0002;
          ow_data[1] = {ob1[7:6], c.ecn_new, ob1[3:0]};
        end
        n_c.st = SFin;
      end
      SRck0: begin
        // inbound: read the SA again; older packets' FIN may have moved its window or state
        sa_rd_o   = 1'b1;
        sa_slot_o = c.res_slot;
        n_c.st    = SRck1;
      end
      SRck1: begin
        n_c.sa = sa_i;
        n_c.bm = bm_i;
        n_c.st = SRck2;
      end
      SRck2: begin
        // the pre-check again on the fresh state (same order as CHECK); a packet whose ESN
        // inference or pre-check verdict changed runs again from CHECK, waiting in place
        n_c.rck_done = 1'b1;
        n_c.st = SFin;
        if (c.sa.state == SaHard || i_short || i_replay) begin
          n_c.status  = (c.sa.state == SaHard) ? StLifetime : (i_short ? StMalformed : StReplay);
          n_c.accept  = 1'b0;
          n_c.dummy   = 1'b0;
          n_c.res_len = '0;
        end else if (c.pre_drop || i_seq != c.seq64) begin
          n_c.status    = StOk;
          n_c.res_len   = '0;
          n_c.res_seq   = '0;
          n_c.accept    = 1'b0;
          n_c.dummy     = 1'b0;
          n_c.from_ibuf = 1'b0;
          n_c.rck_done  = 1'b0;
          n_c.nodefer   = 1'b1;
          n_c.st        = SCheck;
        end
      end
      SFin: begin
        if (g.young) begin
          // an older packet is parked: it finishes first
          n_c = d;
          n_d = c;
          n_d.pipe = 1'b0;
          n_g.young = 1'b0;
        end else if (c.chk && !c.rck_done) begin
          n_c.st = SRck0;
        end else if (!rec_fits) begin
          n_g.bcode = 4'd1;
          n_g.brec  = c.rec;
          n_c.st    = SDrain;
        end else begin
          n_c.ev_soft = 1'b0;
          n_c.ev_hard = 1'b0;
          n_c.ev_ovf  = 1'b0;
          if (c.accept) begin
            sa_we_o    = 1'b1;
            n_c.sa     = sa_new;
            n_c.ev_soft = l_soft;
            n_c.ev_hard = l_hard;
            n_c.ev_ovf  = l_ovf;
            if (!c.dummy) pkt_inc_o[c.dir] = 1'b1;
          end
          unique case (c.status)
            StAuth:      drop_inc_o[0] = 1'b1;
            StReplay:    drop_inc_o[1] = 1'b1;
            StNoSa:      drop_inc_o[2] = 1'b1;
            StMalformed: drop_inc_o[3] = 1'b1;
            StLifetime:  drop_inc_o[4] = 1'b1;
            default: ;
          endcase
          if (c.status != StOk && c.status != StNotEsp) begin
            n_c.res_len = '0;
            n_c.res_seq = '0;
          end
          n_c.st = SEvt;
        end
      end
      SEvt: begin
        ev.kind = c.ev_soft ? EvSoft : (c.ev_hard ? EvHard : EvSeqOverflow);
        if (c.ev_soft || c.ev_hard || c.ev_ovf) evt_valid_o = 1'b1;
        if (c.ev_soft) n_c.ev_soft = 1'b0;
        else if (c.ev_hard) n_c.ev_hard = 1'b0;
        else if (c.ev_ovf) n_c.ev_ovf = 1'b0;
        else begin
          // hand the result to the writer; the entry stays busy until it is written
          p_push      = 1'b1;
          n_g.cseq    = g.cseq + 3'd1;
          n_g.out_off = g.out_off + {16'h0, rec_size};
          if (g.dv && !d.pipe) begin
            n_c = d;  // the younger packet that waited for this FIN
            n_g.dv = 1'b0;
          end else begin
            n_c.st = SNext;
          end
        end
      end
      SUcsum: begin
        logic [31:0] us;
        us = c.csum;
        for (int m = 0; m < 8; m++) begin
          logic [15:0] a;
          logic [7:0] hi, lo;
          a  = c.pos + 16'(2 * m);
          hi = (a >= c.hl && a < c.ip_len) ? ib(a) : 8'h0;
          lo = (a + 16'd1 >= c.hl && a + 16'd1 < c.ip_len) ? ib(a + 16'd1) : 8'h0;
          us = us + {16'h0, hi, lo};
        end
        n_c.csum = us;
        n_c.pos  = c.pos + 16'd16;
        if (c.pos + 16'd16 >= c.ip_len) n_c.st = SUcsumChk;
      end
      SUcsumChk: begin
        logic [31:0] us;
        us = c.csum + {16'h0, c.ip_len - c.hl} + 32'd17;
        if (c.v6) begin
          for (int i = 0; i < 16; i++) us = us + {16'h0, ib16(16'(8 + 2 * i))};
        end else begin
          for (int i = 0; i < 4; i++) us = us + {16'h0, ib16(16'(12 + 2 * i))};
        end
        if (csum_fold(us) != 16'hFFFF) begin
          n_c.status    = StMalformed;
          n_c.res_len   = '0;
          n_c.from_ibuf = 1'b0;
          n_c.st        = SFin;
        end else begin
          n_c.st  = c.st_after;
          sa_rd_o = (c.st_after == SSa);
        end
      end
      SDrain: begin
        // batch end: the reader has no burst open, the writer has written every result and
        // no crypt job is left (a packet parked at OUT_FULL still drains through gcm_core)
        if (rq.st == RIdle && wq.st == WIdle && (wq.seq == g.cseq || wq.err) && !fj.v &&
            !fq.v && pend_q == '0) begin
          if (wq.err) begin
            n_g.bcode = 4'd3;
            n_g.brec  = wq.idx[15:0];
          end
          n_g.done = 1'b1;
          n_g.dv   = 1'b0;
          n_c.st   = SIdle;
        end
      end
      default: n_c.st = SIdle;
    endcase

    // crypto command set-up happens when entering SCrypt (from SCheck, SCopy or SHdr)
    j_push = 1'b0;
    if (c.st != SCrypt && n_c.st == SCrypt && n_c.ent == c.ent) begin
      j_push       = 1'b1;
      n_c.cmd_sent = 1'b0;
      n_c.job_sent = 1'b0;
      n_c.pfx      = '0;
      for (int i = 0; i < 4; i++) begin
        n_c.pfx[8 * i +: 8] = n_c.sa.spi[31 - 8 * i -: 8];
      end
      if (n_c.sa.esn) begin
        for (int i = 0; i < 4; i++) begin
          n_c.pfx[32 + 8 * i +: 8] = n_c.seq64[63 - 8 * i -: 8];
          n_c.pfx[64 + 8 * i +: 8] = n_c.seq64[31 - 8 * i -: 8];
        end
      end else begin
        for (int i = 0; i < 4; i++) n_c.pfx[32 + 8 * i +: 8] = n_c.seq64[31 - 8 * i -: 8];
      end
      // nonce = salt || IV; IV = the 64-bit sequence (outbound) or the packet's IV (inbound)
      for (int i = 0; i < 4; i++) n_c.iv[8 * i +: 8] = n_c.sa.salt[31 - 8 * i -: 8];
      for (int i = 0; i < 8; i++) begin
        n_c.iv[32 + 8 * i +: 8] = n_c.dir ? ib(n_c.esp_off + 16'd8 + 16'(i))
                                           : n_c.seq64[63 - 8 * i -: 8];
      end
      n_c.pfx_len = n_c.sa.esn ? 5'd12 : 5'd8;
      if (n_c.sa.gmac) begin
        for (int i = 0; i < 8; i++) begin
          n_c.pfx[8 * (int'(n_c.pfx_len) + i) +: 8] = n_c.iv[32 + 8 * i +: 8];
        end
        n_c.pfx_len = n_c.pfx_len + 5'd8;
      end
      n_c.aad_len = n_c.sa.gmac ? {11'h0, n_c.pfx_len} + n_c.e : {11'h0, n_c.pfx_len};
      n_c.txt_len = n_c.sa.gmac ? 16'h0 : n_c.e;
      n_c.fsyn    = !n_c.dir && !n_c.sa.gmac;
      n_c.c_ibuf  = n_c.dir;
      n_c.c_src   = n_c.esp_off + 16'd16;
      n_c.c_dst   = n_c.dir ? n_c.dst_off : n_c.esp_off + 16'd16;
      n_c.exp_tag = '0;
      for (int i = 0; i < 16; i++) begin
        if (5'(i) < n_c.k) n_c.exp_tag[8 * i +: 8] = ib(n_c.esp_off + 16'd16 + n_c.e + 16'(i));
      end
    end
    if (park_to_next) n_c.st = SNext;
  end

  assign evt_o = ev;

  // gcm command fields
  assign gcm_cmd_key_o          = c.sa.key;
  assign gcm_cmd_aes256_o       = c.sa.key256;
  assign gcm_cmd_iv_o           = c.iv;
  assign gcm_cmd_hkey_o         = c.sa.hkey;
  assign gcm_cmd_decrypt_o      = c.dir;
  assign gcm_cmd_aad_len_o      = c.aad_len;
  assign gcm_cmd_text_len_o     = c.txt_len;
  assign gcm_cmd_tag_len_o      = c.k;
  assign gcm_cmd_expected_tag_o = c.exp_tag;
  // valids from registers only (no path from gcm_core's readies back into them)
  assign gcm_cmd_valid_o        = (c.st == SCrypt) && !c.cmd_sent;
  assign gcm_in_tvalid_o        = fj.v;
  assign gcm_in_tdata_o         = f_data;
  assign gcm_in_tkeep_o         = f_keep;
  assign gcm_in_tlast_o         = f_tlast;

  // SA write-back (FIN)
  assign sa_wdir_o  = c.dir;
  assign sa_wslot_o = c.res_slot;
  assign sa_wsa_o   = sa_new;
  assign sa_wbm_o   = bm_new;

  // ---- crypt collector: gcm_core text out -> obuf entry, tag -> j_ok (+ ICV if outbound) -----
  // Jobs complete in command order (gcm_core keeps message order). Text beats are taken only
  // while the head job expects them and its tag only after its last beat, so beats of the next
  // message are never credited to this one.
  logic [SlotAw-1:0] jq [Slots];  // entries in command order
  logic [15:0] j_dst [Slots];
  logic [15:0] j_len [Slots];
  logic [15:0] j_icv [Slots];
  logic [4:0]  j_k [Slots];
  logic        j_enc [Slots];
  logic [2:0]  jq_head, jq_tail;
  logic [15:0] j_opos;
  logic [SlotAw-1:0] ce;
  logic        j_has, j_done;
  assign ce    = jq[jq_head[SlotAw-1:0]];
  assign j_has = (jq_head != jq_tail);

  always_comb begin : collector
    gcm_out_tready_o = j_has && (j_opos < j_len[ce]);
    gcm_tag_ready_o  = j_has && (j_opos >= j_len[ce]);
    j_done  = gcm_tag_ready_o && gcm_tag_valid_i;
    cw_ent  = ce;
    cw_en   = '0;
    cw_addr = j_dst[ce] + j_opos;
    for (int j = 0; j < 16; j++) cw_data[j] = gcm_out_tdata_i[8 * j +: 8];
    if (gcm_out_tready_o && gcm_out_tvalid_i) cw_en = gcm_out_tkeep_i;
    if (j_done && j_enc[ce]) begin
      cw_addr = j_icv[ce];
      for (int j = 0; j < 16; j++) begin
        cw_en[j]   = (5'(j) < j_k[ce]);
        cw_data[j] = gcm_tag_i[8 * j +: 8];
      end
    end
  end

  always_ff @(posedge clk_i) begin : collector_reg
    if (j_push) begin
      jq[jq_tail[SlotAw-1:0]] <= pe;
      j_dst[pe] <= n_c.c_dst;
      j_len[pe] <= n_c.txt_len;
      j_icv[pe] <= n_c.esp_off + 16'd16 + n_c.e;
      j_k[pe]   <= n_c.k;
      j_enc[pe] <= !n_c.dir;
    end
    if (j_done) j_ok[ce] <= gcm_tag_ok_i;
    if (rst_i) begin
      jq_head <= '0;
      jq_tail <= '0;
      j_opos  <= '0;
      pend_q  <= '0;
    end else begin
      if (j_push) begin
        jq_tail    <= jq_tail + 3'd1;
        pend_q[pe] <= 1'b1;
      end
      if (gcm_out_tready_o && gcm_out_tvalid_i) j_opos <= j_opos + 16'd16;
      if (j_done) begin
        jq_head    <= jq_head + 3'd1;
        j_opos     <= '0;
        pend_q[ce] <= 1'b0;
      end
    end
  end

  // ---- reader: record header beat, then the rest of the packet into ibuf entry rq.seq -------
  // Runs while the packet FSM is in a batch (not in SDrain), up to Slots entries ahead of the
  // writer; stops after IN_COUNT records or at the first bad record / bus error (whose code is
  // left in m_code for the packet FSM to report in order). Beats are 64-byte aligned: the header
  // beat also carries the first data bytes of the record.
  logic        r_hdr_we, r_code_we;
  logic [3:0]  r_code;
  logic [127:0] r_hdr;
  logic        batch_init;
  assign batch_init = (c.st == SWaitSa) && !sa_busy_i;

  always_comb begin : reader
    logic run;
    logic [17:0] endb;
    rq_d = rq;
    iw_en = 1'b0;
    iw_off = rq.woff;
    r_hdr_we = 1'b0;
    r_code_we = 1'b0;
    r_code = 4'd0;
    r_hdr = m_axi_rdata_i[128 * int'(rq.ptr[5:4]) +: 128];
    endb = '0;
    m_axi_arvalid_o = 1'b0;
    m_axi_araddr_o = {rq.ptr[63:6], 6'h0};
    m_axi_arlen_o = 8'h0;
    m_axi_rready_o = 1'b0;
    run = (c.st != SIdle) && (c.st != SWaitSa) && (c.st != SDrain) && !rq.halt &&
          (rq.idx != g.rec_cnt) && ((rq.seq - wq.seq) < 3'(Slots));
    unique case (rq.st)
      RIdle: if (run) rq_d.st = RHdrAr;
      RHdrAr: begin
        m_axi_arvalid_o = 1'b1;
        if (m_axi_arready_i) rq_d.st = RHdrR;
      end
      RHdrR: begin
        m_axi_rready_o = 1'b1;
        iw_off = 18'h0 - {12'h0, rq.ptr[5:0]} - 18'd16;
        if (m_axi_rvalid_i) begin
          r_hdr_we = 1'b1;
          iw_en = 1'b1;
          rq_d.len  = r_hdr[15:0];
          rq_d.addr = {rq.ptr[63:6], 6'h0} + 64'd64;
          // data beats after this one: the record data ends at ptr[5:0] + 16 + len
          endb = {12'h0, rq.ptr[5:0]} + 18'd16 + {2'h0, r_hdr[15:0]};
          rq_d.left = 16'((endb + 18'd63) >> 6) - 16'd1;
          rq_d.woff = 18'd64 - {12'h0, rq.ptr[5:0]} - 18'd16;
          rq_d.err  = 1'b0;
          if (m_axi_rresp_i != 2'b00) r_code = 4'd3;
          else if (r_hdr[15:0] == 16'h0 || r_hdr[15:0] > MaxPkt || r_hdr[39:33] != 7'h0)
            r_code = 4'd2;
          if (r_code != 4'd0) begin
            rq_d.halt = 1'b1;
            rq_d.seq  = rq.seq + 3'd1;
            rq_d.idx  = rq.idx + 32'd1;
            rq_d.st   = RIdle;
          end else if (endb <= 18'd64) begin
            rq_d.seq = rq.seq + 3'd1;
            rq_d.idx = rq.idx + 32'd1;
            rq_d.ptr = rq.ptr + 64'd16 + {48'h0, round16(r_hdr[15:0])};
            rq_d.st  = RIdle;
          end else begin
            rq_d.st = RDatAr;
          end
        end
      end
      RDatAr: begin
        m_axi_arvalid_o = 1'b1;
        m_axi_araddr_o  = rq.addr;
        m_axi_arlen_o   = burst_rd - 8'd1;
        rq_d.blen       = burst_rd;
        if (m_axi_arready_i) rq_d.st = RDatR;
      end
      RDatR: begin
        m_axi_rready_o = 1'b1;
        if (m_axi_rvalid_i) begin
          iw_en = 1'b1;
          rq_d.woff = rq.woff + 18'd64;
          if (m_axi_rresp_i != 2'b00) rq_d.err = 1'b1;
          if (m_axi_rlast_i) begin
            rq_d.left = rq.left - {8'h0, rq.blen};
            rq_d.addr = rq.addr + {50'h0, rq.blen, 6'h0};
            if (rq.err || m_axi_rresp_i != 2'b00) begin
              r_code_we = 1'b1;
              r_code    = 4'd3;
              rq_d.halt  = 1'b1;
              rq_d.seq   = rq.seq + 3'd1;
              rq_d.idx   = rq.idx + 32'd1;
              rq_d.st    = RIdle;
            end else if (rq.left == {8'h0, rq.blen}) begin
              rq_d.seq = rq.seq + 3'd1;
              rq_d.idx = rq.idx + 32'd1;
              rq_d.ptr = rq.ptr + 64'd16 + {48'h0, round16(rq.len)};
              rq_d.st  = RIdle;
            end else begin
              rq_d.st = RDatAr;
            end
          end
        end
      end
      default: rq_d.st = RIdle;
    endcase
    if (batch_init) begin
      rq_d.halt = 1'b0;
      rq_d.seq  = '0;
      rq_d.idx  = '0;
      rq_d.ptr  = in_addr_i;
    end
  end

  always_ff @(posedge clk_i) begin : record_fields
    if (r_hdr_we) begin
      m_len[rq.seq[SlotAw-1:0]]    <= r_hdr[15:0];
      m_rslot[rq.seq[SlotAw-1:0]]  <= r_hdr[31:16];
      m_dir[rq.seq[SlotAw-1:0]]    <= r_hdr[32];
      m_cookie[rq.seq[SlotAw-1:0]] <= r_hdr[95:64];
    end
    if (r_hdr_we || r_code_we) m_code[rq.seq[SlotAw-1:0]] <= r_code;
  end

  always_ff @(posedge clk_i) begin : result_descriptors
    if (p_push) begin
      d_len[pe]       <= c.res_len;
      d_status[pe]    <= c.status;
      d_dir[pe]       <= c.dir;
      d_slot[pe]      <= c.res_slot;
      d_cookie[pe]    <= c.cookie;
      d_seq[pe]       <= c.res_seq;
      d_from_ibuf[pe] <= c.from_ibuf;
      d_addr[pe]      <= g.out_base + {32'h0, g.out_off};
    end
  end

  // ---- writer: result record of entry wq.seq (64-byte beats from the aligned-down address) --
  function automatic logic [15:0] wbeats(input logic [5:0] a, input logic [15:0] len);
    logic [17:0] e;
    e = {12'h0, a} + 18'd16 + {2'h0, round16(len)};
    return 16'((e + 18'd63) >> 6);
  endfunction

  always_comb begin : writer
    logic [SlotAw-1:0] wn;
    wn = we + SlotAw'(1);
    wq_d = wq;
    m_axi_awvalid_o = 1'b0;
    m_axi_wvalid_o = 1'b0;
    m_axi_bready_o = 1'b0;
    unique case (wq.st)
      WIdle: begin
        if (c.st != SIdle && c.st != SWaitSa && !wq.err && wq.seq != g.cseq &&
            !pend_q[we]) begin
          wq_d.addr = {d_addr[we][63:6], 6'h0};
          wq_d.ro   = d_addr[we][5:0];
          wq_d.left = wbeats(d_addr[we][5:0], d_len[we]);
          wq_d.b    = '0;
          wq_d.st   = WAw;
        end
      end
      WAw: begin
        m_axi_awvalid_o = 1'b1;
        wq_d.blen = burst_wr;
        wq_d.bi   = '0;
        if (m_axi_awready_i) wq_d.st = WW;
      end
      WW: begin
        m_axi_wvalid_o = 1'b1;
        if (m_axi_wready_i) begin
          wq_d.b  = wq.b + 16'd1;
          wq_d.bi = wq.bi + 8'd1;
          if (wq.bi + 8'd1 == wq.blen) begin
            wq_d.left = wq.left - {8'h0, wq.blen};
            wq_d.addr = wq.addr + {50'h0, wq.blen, 6'h0};
            wq_d.st   = WB;
          end
        end
      end
      WB: begin
        m_axi_bready_o = 1'b1;
        if (m_axi_bvalid_i) begin
          if (m_axi_bresp_i != 2'b00) begin
            wq_d.err = 1'b1;
            wq_d.st  = WIdle;
          end else if (wq.left != 16'h0) begin
            wq_d.st = WAw;
          end else begin
            wq_d.idx = wq.idx + 32'd1;
            wq_d.off = wq.off + 32'd16 + {16'h0, round16(d_len[we])};
            wq_d.seq = wq.seq + 3'd1;
            wq_d.st  = WIdle;
            if (wq.seq + 3'd1 != g.cseq && !pend_q[wn]) begin
              // next result ready: its AW follows without an idle cycle
              wq_d.addr = {d_addr[wn][63:6], 6'h0};
              wq_d.ro   = d_addr[wn][5:0];
              wq_d.left = wbeats(d_addr[wn][5:0], d_len[wn]);
              wq_d.b    = '0;
              wq_d.st   = WAw;
            end
          end
        end
      end
      default: wq_d.st = WIdle;
    endcase
    if (batch_init) begin
      wq_d.seq = '0;
      wq_d.idx = '0;
      wq_d.off = '0;
      wq_d.err = 1'b0;
    end
  end

  // AXI write channel: byte r of the record (r = 64 * b + lane - ro) is header byte r (r < 16),
  // data byte r - 16, or zero up to the record's 16-byte end; strobes cover the record only
  always_comb begin : axi_write
    logic [15:0] rend;
    rend = 16'd16 + round16(d_len[we]);
    m_axi_awaddr_o = wq.addr;
    m_axi_awlen_o  = burst_wr - 8'd1;
    m_axi_wlast_o  = (wq.bi + 8'd1 == wq.blen);
    m_axi_wdata_o  = '0;
    m_axi_wstrb_o  = '0;
    for (int j = 0; j < int'(Bw); j++) begin
      logic [17:0] r;
      logic [15:0] a;
      logic [127:0] hd;
      hd = {d_seq[we], d_cookie[we], 16'h0, d_status[we], 7'h0, d_dir[we], d_slot[we],
            d_len[we]};
      r = {wq.b[11:0], 6'h0} + 18'(j) - {12'h0, wq.ro};
      a = r[15:0] - 16'd16;
      if (r[17:16] == 2'b00 && r[15:0] < rend) begin
        m_axi_wstrb_o[j] = 1'b1;
        if (r[15:0] < 16'd16) m_axi_wdata_o[8 * j +: 8] = hd[8 * r[3:0] +: 8];
        else if (a < d_len[we]) begin
          m_axi_wdata_o[8 * j +: 8] = d_from_ibuf[we] ? ibuf[{we, ba(a)}] : obuf[{we, ba(a)}];
        end
      end
    end
  end

  assign done_o = g.done;
  assign idle_o = (c.st == SIdle) && !g.start_pend;
  assign busy_o = (c.st != SIdle) && (c.st != SWaitSa);
  assign out_count_o = wq.idx;
  assign out_bytes_o = wq.off;
  assign batch_status_o = {g.brec, 12'h0, g.bcode};

  always_ff @(posedge clk_i) begin : ctx_reg
    if (rst_i) begin
      g  <= '0;
      c  <= '0;
      d  <= '0;
      fj <= '0;
      fq <= '0;
    end else begin
      g  <= n_g;
      c  <= n_c;
      d  <= n_d;
      fj <= n_fj;
      fq <= n_fq;
    end
  end

  always_ff @(posedge clk_i) begin : rd_wr_reg
    if (rst_i) begin
      rq <= '0;
      wq <= '0;
    end else begin
      rq <= rq_d;
      wq <= wq_d;
    end
  end

  logic unused;
  assign unused = ^{gcm_out_tlast_i, c.ip_len, ib1[3:2], ib6[7], ib6[5:0], fe0[3:0],
                   to4k_unused, c.c_src, c.fsyn, c.pipe, r_hdr[127:96],
                   r_hdr[63:40]};

endmodule
