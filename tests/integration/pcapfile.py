"""Reading and writing classic pcap files in the integration tests, without
libpcap: records are (timestamp in ns, frame bytes)."""

import struct


def read_pcap(path):
    """(linktype, [(ts_ns, frame)]) of a pcap file (micro- or nanosecond, either byte order)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    formats = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\x4d\x3c\xb2\xa1": ("<", 1),
               b"\xa1\xb2\xc3\xd4": (">", 1000), b"\xa1\xb2\x3c\x4d": (">", 1)}
    if magic not in formats:
        raise ValueError("%s: not a pcap file (pcapng is not read here)" % path)
    endian, scale = formats[magic]
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    records = []
    pos = 24
    header = struct.Struct(endian + "IIII")
    while pos + 16 <= len(data):
        sec, frac, caplen, _ = header.unpack_from(data, pos)
        records.append((sec * 10**9 + frac * scale, data[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return linktype, records


def pcap_header(linktype):
    return struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype)


def pcap_record(ts, frame):
    return struct.pack("<IIII", ts // 10**9, ts % 10**9, len(frame), len(frame)) + frame


def write_pcap(path, linktype, records):
    with open(path, "wb") as f:
        f.write(pcap_header(linktype))
        f.writelines(pcap_record(ts, frame) for ts, frame in records)
