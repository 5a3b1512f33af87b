#!/usr/bin/env node
// A HEP v3 receiver for tapflow's integration tests: an independent decoder
// (hep-js, from the sipcapture project, as HOMER's node tools use it) that
// prints what it received as one JSON line per HEP message, so a test can
// compare every chunk with what tshark saw on the wire.
//
//   node hep_receiver.js [--host 127.0.0.1] [--udp PORT] [--tcp PORT]
//
// PORT 0 picks a free port. Output lines (JSON, written synchronously, so a
// killed receiver has printed everything it received):
//   {"kind":"listening","udp":P,"tcp":P,"pid":N,"recv_ms":T}  once both are bound
//   {"kind":"connect","conn":N,"peer":"ip:port","recv_ms":T}
//   {"kind":"message","transport":"udp"|"tcp","conn":N,"recv_ms":T,
//    "length":L,"datagram_bytes":B,"chunks":[[vendor,type,len],...],
//    "problems":[...],"fields":{...},"hepjs":{...}}
//   {"kind":"close","conn":N,"recv_ms":T,"leftover_bytes":B,"error":"..."}
//   {"kind":"error","transport":...,"conn":N,"reason":"...","head_hex":"..."}
// "fields" holds every chunk's value: ip_family, protocol, src_ip, dst_ip,
// src_port, dst_port, time_sec, time_usec, proto_type, capture_id, auth_key,
// correlation_id, vlan, node_name, src_pod, dst_pod, payload (hep-js's UTF-8
// text) and payload_b64 (the chunk's exact bytes). hep-js decodes all of them
// but the IPv6 addresses (chunks 5 and 6: it knows only IPv4), which this file
// reads itself; the VLAN (chunk 18) and tapflow's pod chunks (vendor 0x7466,
// types 0x7401 source pod and 0x7402 destination pod, "namespace/pod") go
// through hep-js's vendor-extension hook. "pod_chunks_raw" holds the pod
// chunks' bytes as they were on the wire, to compare with hep-js's reading.
// TCP streams are framed by the HEP length field, as HOMER frames them.
// hep-js is GPLv2: a test tool only, never part of tapflow.
"use strict";

const dgram = require("dgram");
const net = require("net");
const hep = require("hep-js");

// Chunk 18 (VLAN, uint16) is not in hep-js's table; its extension hook reads it.
hep.addVendorExtensions({ 0: { 18: { keyName: "vlan", type: "UInt16" } } });
// tapflow's vendor chunks (src/export/hep_encoder.h): text, no type given, so
// hep-js keeps them as strings.
const TAPFLOW_VENDOR = 0x7466, TAPFLOW_SOURCE_POD = 0x7401, TAPFLOW_DESTINATION_POD = 0x7402;
hep.addVendorExtensions({
  [TAPFLOW_VENDOR]: {
    [TAPFLOW_SOURCE_POD]: { keyName: "tapflowSourcePod" },
    [TAPFLOW_DESTINATION_POD]: { keyName: "tapflowDestinationPod" },
  },
});

const HEADER_BYTES = 6;  // "HEP3" + total length
const CHUNK_HEADER_BYTES = 6;  // vendor, type, length (length counts these 6)

function parseArgs(argv) {
  const opts = { host: "127.0.0.1", udp: null, tcp: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage("missing value after " + a);
      return argv[++i];
    };
    if (a === "--host") opts.host = next();
    else if (a === "--udp") opts.udp = portArg(next());
    else if (a === "--tcp") opts.tcp = portArg(next());
    else usage("unknown argument " + a);
  }
  if (opts.udp === null && opts.tcp === null) usage("give --udp PORT, --tcp PORT or both");
  return opts;
}

function portArg(text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) usage("not a port: " + text);
  return n;
}

function usage(why) {
  process.stderr.write("hep_receiver.js: " + why + "\n" +
                       "usage: node hep_receiver.js [--host ADDR] [--udp PORT] [--tcp PORT]\n");
  process.exit(2);
}

function emit(obj) {
  // fs.writeSync: one whole line per call, nothing left in a buffer on SIGKILL.
  require("fs").writeSync(1, JSON.stringify(obj) + "\n");
}

function ipv6Text(buf) {
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(i).toString(16));
  // The canonical form (RFC 5952): the longest run of two or more zero groups becomes "::".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return groups.slice(0, best).join(":") + "::" + groups.slice(best + bestLen).join(":");
}

// The chunk list as it is on the wire, checked before hep-js sees it (hep-js
// loops forever on a chunk shorter than its header).
function walkChunks(msg) {
  const chunks = [];
  const problems = [];
  const raw = {};
  if (msg.length < HEADER_BYTES || msg.toString("latin1", 0, 4) !== "HEP3") {
    problems.push("does not start with HEP3");
    return { chunks, problems, raw };
  }
  const total = msg.readUInt16BE(4);
  if (total !== msg.length) problems.push("HEP length " + total + ", message bytes " + msg.length);
  let pos = HEADER_BYTES;
  const end = Math.min(total, msg.length);
  while (pos < end) {
    if (end - pos < CHUNK_HEADER_BYTES) {
      problems.push("truncated chunk header at byte " + pos);
      break;
    }
    const vendor = msg.readUInt16BE(pos);
    const type = msg.readUInt16BE(pos + 2);
    const len = msg.readUInt16BE(pos + 4);
    if (len < CHUNK_HEADER_BYTES || pos + len > end) {
      problems.push("chunk " + vendor + "/" + type + " at byte " + pos + " has length " + len);
      break;
    }
    chunks.push([vendor, type, len]);
    const key = vendor + "/" + type;
    if (key in raw) problems.push("chunk " + key + " given twice");
    else raw[key] = msg.subarray(pos + CHUNK_HEADER_BYTES, pos + len);
    pos += len;
  }
  // Fixed-size chunks must have their size: a decoder reading past them would lie.
  const sizes = { 1: 1, 2: 1, 3: 4, 4: 4, 5: 16, 6: 16, 7: 2, 8: 2, 9: 4, 10: 4, 11: 1, 12: 4, 18: 2 };
  for (const [type, size] of Object.entries(sizes)) {
    const value = raw["0/" + type];
    if (value !== undefined && value.length !== size) {
      problems.push("chunk 0/" + type + " holds " + value.length + " bytes, not " + size);
    }
  }
  return { chunks, problems, raw };
}

function decode(msg, transport, conn, datagramBytes) {
  const { chunks, problems, raw } = walkChunks(msg);
  let decoded = null;
  if (problems.length === 0) {
    decoded = hep.decapsulate(msg);
    if (!decoded) problems.push("hep-js could not decode the message");
  }
  const rc = (decoded && decoded.rcinfo) || {};
  const fields = {
    ip_family: rc.protocolFamily,
    protocol: rc.protocol,
    src_ip: rc.srcIp,
    dst_ip: rc.dstIp,
    src_port: rc.srcPort,
    dst_port: rc.dstPort,
    time_sec: rc.timeSeconds,
    time_usec: rc.timeUseconds,
    proto_type: rc.payloadType,
    capture_id: rc.captureId,
    auth_key: rc.capturePass,
    correlation_id: rc.correlation_id,
    vlan: rc.vlan,
    node_name: rc.hepNodeName,
    src_pod: rc.tapflowSourcePod,
    dst_pod: rc.tapflowDestinationPod,
    payload: decoded ? decoded.payload : undefined,
  };
  // hep-js reads IPv4 addresses only; IPv6 ones (chunks 5, 6) are decoded here.
  if (raw["0/5"] && raw["0/5"].length === 16) fields.src_ip = ipv6Text(raw["0/5"]);
  if (raw["0/6"] && raw["0/6"].length === 16) fields.dst_ip = ipv6Text(raw["0/6"]);
  if (raw["0/15"]) fields.payload_b64 = raw["0/15"].toString("base64");
  const podChunksRaw = {};
  for (const type of [TAPFLOW_SOURCE_POD, TAPFLOW_DESTINATION_POD]) {
    const value = raw[TAPFLOW_VENDOR + "/" + type];
    if (value !== undefined) podChunksRaw[type] = value.toString("latin1");
  }
  const line = {
    kind: "message", transport, conn, recv_ms: Date.now(),
    length: msg.length >= HEADER_BYTES ? msg.readUInt16BE(4) : null,
    chunks, problems, fields, pod_chunks_raw: podChunksRaw,
  };
  if (datagramBytes !== undefined) line.datagram_bytes = datagramBytes;
  if (decoded) {
    // hep-js's own output, minus the payload already in fields.
    line.hepjs = { rcinfo: decoded.rcinfo };
  }
  emit(line);
}

function listenUdp(opts, ready) {
  const sock = dgram.createSocket(opts.host.includes(":") ? "udp6" : "udp4");
  sock.on("error", (err) => {
    emit({ kind: "error", transport: "udp", reason: String(err) });
    process.exit(1);
  });
  sock.on("message", (msg) => decode(msg, "udp", null, msg.length));
  sock.bind(opts.udp, opts.host, () => ready(sock.address().port));
}

function listenTcp(opts, ready) {
  let nextConn = 1;
  const server = net.createServer((s) => {
    const conn = nextConn++;
    emit({ kind: "connect", conn, peer: s.remoteAddress + ":" + s.remotePort, recv_ms: Date.now() });
    let buf = Buffer.alloc(0);
    let failed = null;
    s.on("data", (data) => {
      if (failed) return;
      buf = buf.length ? Buffer.concat([buf, data]) : data;
      // One HEP message per length field; a stream that is not HEP cannot be resynchronised.
      while (buf.length >= HEADER_BYTES) {
        if (buf.toString("latin1", 0, 4) !== "HEP3") {
          failed = "stream lost HEP framing";
          emit({ kind: "error", transport: "tcp", conn, reason: failed,
                 head_hex: buf.subarray(0, 32).toString("hex") });
          s.destroy();
          return;
        }
        const total = buf.readUInt16BE(4);
        if (total < HEADER_BYTES) {
          failed = "HEP length " + total + " shorter than its header";
          emit({ kind: "error", transport: "tcp", conn, reason: failed,
                 head_hex: buf.subarray(0, 32).toString("hex") });
          s.destroy();
          return;
        }
        if (buf.length < total) break;
        decode(buf.subarray(0, total), "tcp", conn);
        buf = buf.subarray(total);
      }
    });
    s.on("error", (err) => { failed = failed || String(err); });
    s.on("close", () => {
      emit({ kind: "close", conn, recv_ms: Date.now(), leftover_bytes: buf.length, error: failed });
    });
  });
  server.on("error", (err) => {
    emit({ kind: "error", transport: "tcp", reason: String(err) });
    process.exit(1);
  });
  server.listen(opts.tcp, opts.host, () => ready(server.address().port));
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ports = { udp: null, tcp: null };
  let waiting = (opts.udp !== null) + (opts.tcp !== null);
  const done = (kind) => (port) => {
    ports[kind] = port;
    if (--waiting === 0) {
      emit({ kind: "listening", udp: ports.udp, tcp: ports.tcp, pid: process.pid, recv_ms: Date.now() });
    }
  };
  if (opts.udp !== null) listenUdp(opts, done("udp"));
  if (opts.tcp !== null) listenTcp(opts, done("tcp"));
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
}

main();
