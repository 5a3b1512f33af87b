// Tests of the pcap file source: classic pcap files are walked in place and
// must give exactly what libpcap gives (records, cuts, times, error texts);
// pcapng and FIFOs still go through libpcap.
#include "capture/pcap_source.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace tapflow;

namespace {

struct RecordSpec {
  uint32_t sec = 0;
  uint32_t frac = 0;      // µs or ns, as the file's magic says
  uint32_t caplen = 0;    // as written in the record header
  uint32_t len = 0;
  uint32_t body = ~0u;    // bytes actually written (default: caplen)
  uint32_t header = 16;   // record header bytes written (fewer: cut file)
};

struct FileSpec {
  bool nanoseconds = false;
  bool swapped = false;
  uint16_t major = 2, minor = 4;
  uint32_t snaplen = 65535;
  uint32_t linktype = 1;  // Ethernet
  std::vector<RecordSpec> records;
};

void put32(std::string& out, uint32_t v, bool swapped) {
  if (swapped) v = __builtin_bswap32(v);
  out.append(reinterpret_cast<const char*>(&v), 4);
}
void put16(std::string& out, uint16_t v, bool swapped) {
  if (swapped) v = __builtin_bswap16(v);
  out.append(reinterpret_cast<const char*>(&v), 2);
}

// Byte i of a record's data: differs between records and positions.
uint8_t dataByte(size_t record, size_t i) { return uint8_t(record * 31 + i * 7 + 1); }

std::string classicPcap(const FileSpec& f) {
  std::string out;
  put32(out, f.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, f.swapped);
  put16(out, f.major, f.swapped);
  put16(out, f.minor, f.swapped);
  put32(out, 0, f.swapped);
  put32(out, 0, f.swapped);
  put32(out, f.snaplen, f.swapped);
  put32(out, f.linktype, f.swapped);
  for (size_t r = 0; r < f.records.size(); ++r) {
    const RecordSpec& rec = f.records[r];
    std::string header;
    put32(header, rec.sec, f.swapped);
    put32(header, rec.frac, f.swapped);
    put32(header, rec.caplen, f.swapped);
    put32(header, rec.len, f.swapped);
    out += header.substr(0, rec.header);
    if (rec.header < 16) break;
    uint32_t body = rec.body == ~0u ? rec.caplen : rec.body;
    for (uint32_t i = 0; i < body; ++i) out.push_back(char(dataByte(r, i)));
  }
  return out;
}

// A file under /tmp, removed at the end of the test.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& bytes) {
    char name[] = "/tmp/tapflow_pcap_test_XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    path = name;
    REQUIRE(write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    close(fd);
  }
  ~TempFile() { unlink(path.c_str()); }
};

struct Got {
  Timestamp ts;
  uint32_t caplen;
  uint32_t len;
  std::vector<uint8_t> bytes;
  bool operator==(const Got&) const = default;
};

struct ReadAll {
  std::vector<Got> records;
  PcapReadResult last = PcapReadResult::kRecord;
  std::string error;
  bool mapped = false;
};

ReadAll readAll(const std::string& path, PcapFileSource::ReadMode mode) {
  PcapFileSource source(path, 65535, mode);
  ReadAll all;
  all.mapped = source.isMapped();
  PcapRecord r;
  while ((all.last = source.readRecord(r)) == PcapReadResult::kRecord) {
    all.records.push_back({r.ts, r.caplen, r.len, std::vector<uint8_t>(r.data, r.data + r.caplen)});
  }
  all.error = source.readError();
  return all;
}

// Reads the file both ways and checks the mapped walk gives what libpcap gives.
ReadAll readBothWays(const FileSpec& spec) {
  TempFile file(classicPcap(spec));
  ReadAll mapped = readAll(file.path, PcapFileSource::ReadMode::kMapClassicPcap);
  ReadAll libpcap = readAll(file.path, PcapFileSource::ReadMode::kLibpcapOnly);
  CHECK(mapped.mapped);
  CHECK_FALSE(libpcap.mapped);
  CHECK(mapped.records.size() == libpcap.records.size());
  CHECK(mapped.records == libpcap.records);
  CHECK(mapped.last == libpcap.last);
  CHECK(mapped.error == libpcap.error);
  return mapped;
}

std::vector<uint8_t> expectedBytes(size_t record, uint32_t n) {
  std::vector<uint8_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = dataByte(record, i);
  return v;
}

FileSpec threeRecords(bool nanoseconds, bool swapped) {
  FileSpec f;
  f.nanoseconds = nanoseconds;
  f.swapped = swapped;
  f.records = {{1700000000, 123456, 60, 60},
               {1700000001, 999999, 1, 1514},
               {1700000002, 0, 1500, 1500}};
  return f;
}

}  // namespace

TEST_CASE("a microsecond pcap is walked in place with times in ns and libpcap's lengths and bytes") {
  ReadAll all = readBothWays(threeRecords(false, false));
  REQUIRE(all.records.size() == 3);
  CHECK(all.last == PcapReadResult::kEnd);
  CHECK(all.error.empty());
  CHECK(all.records[0] == Got{1700000000'123456000, 60, 60, expectedBytes(0, 60)});
  CHECK(all.records[1] == Got{1700000001'999999000, 1, 1514, expectedBytes(1, 1)});
  CHECK(all.records[2] == Got{1700000002'000000000, 1500, 1500, expectedBytes(2, 1500)});
}

TEST_CASE("a nanosecond pcap keeps its nanoseconds") {
  FileSpec f = threeRecords(true, false);
  f.records[0].frac = 123456789;
  ReadAll all = readBothWays(f);
  REQUIRE(all.records.size() == 3);
  CHECK(all.records[0].ts == 1700000000'123456789);
  CHECK(all.records[1].ts == 1700000001'000999999);
}

TEST_CASE("byte-swapped pcaps, micro- and nanosecond, read the same as native ones") {
  for (bool nanoseconds : {false, true}) {
    ReadAll native = readBothWays(threeRecords(nanoseconds, false));
    ReadAll swapped = readBothWays(threeRecords(nanoseconds, true));
    REQUIRE(swapped.records.size() == 3);
    CHECK(swapped.records == native.records);
    CHECK(swapped.records[0].ts == (nanoseconds ? 1700000000'000123456 : 1700000000'123456000));
  }
}

TEST_CASE("times past 2038 are signed 32-bit seconds, as libpcap reads them") {
  FileSpec f;
  f.records = {{0x80000001u, 5, 10, 10}};
  ReadAll all = readBothWays(f);
  REQUIRE(all.records.size() == 1);
  CHECK(all.records[0].ts == Timestamp(int32_t(0x80000001u)) * kNanosPerSecond + 5000);
}

TEST_CASE("a record longer than the file's snaplen is cut to it, the rest skipped") {
  FileSpec f;
  f.snaplen = 100;
  f.records = {{1, 0, 300, 400}, {2, 0, 50, 50}};
  ReadAll all = readBothWays(f);
  REQUIRE(all.records.size() == 2);
  CHECK(all.records[0] == Got{kNanosPerSecond, 100, 400, expectedBytes(0, 100)});
  CHECK(all.records[1] == Got{2 * kNanosPerSecond, 50, 50, expectedBytes(1, 50)});
}

TEST_CASE("files before version 2.3 have the lengths the other way round; 2.3 swaps only when caplen > len") {
  FileSpec old;
  old.minor = 2;
  old.records = {{1, 0, 1514, 60, 60}};  // written as (len, caplen)
  ReadAll a = readBothWays(old);
  REQUIRE(a.records.size() == 1);
  CHECK(a.records[0].caplen == 60);
  CHECK(a.records[0].len == 1514);

  FileSpec maybe;
  maybe.minor = 3;
  maybe.records = {{1, 0, 1514, 60, 60}, {2, 0, 40, 100}};
  ReadAll b = readBothWays(maybe);
  REQUIRE(b.records.size() == 2);
  CHECK(b.records[0].caplen == 60);
  CHECK(b.records[0].len == 1514);
  CHECK(b.records[1].caplen == 40);
  CHECK(b.records[1].len == 100);
}

TEST_CASE("a last record cut inside its header keeps the records before it and reports libpcap's error") {
  FileSpec f = threeRecords(false, false);
  f.records.push_back({9, 0, 60, 60, ~0u, 7});
  ReadAll all = readBothWays(f);
  CHECK(all.records.size() == 3);
  CHECK(all.last == PcapReadResult::kError);
  CHECK(all.error == "truncated dump file; tried to read 16 header bytes, only got 7");
}

TEST_CASE("a last record cut inside its bytes keeps the records before it and reports libpcap's error") {
  FileSpec f = threeRecords(false, true);
  f.records.push_back({9, 0, 60, 60, 25});
  ReadAll all = readBothWays(f);
  CHECK(all.records.size() == 3);
  CHECK(all.last == PcapReadResult::kError);
  CHECK(all.error == "truncated dump file; tried to read 60 captured bytes, only got 25");

  // Longer than the snaplen: libpcap names the part it was reading.
  FileSpec over;
  over.snaplen = 100;
  over.records = {{1, 0, 10, 10}, {2, 0, 300, 300, 40}};
  ReadAll a = readBothWays(over);
  CHECK(a.records.size() == 1);
  CHECK(a.error == "truncated dump file; tried to read 100 captured bytes, only got 40");
  over.records[1].body = 150;
  ReadAll b = readBothWays(over);
  CHECK(b.records.size() == 1);
  CHECK(b.error == "truncated dump file; tried to read 300 captured bytes, only got 150");
}

TEST_CASE("a record longer than 256 KiB is refused with libpcap's error, the records before it kept") {
  FileSpec f;
  f.records = {{1, 0, 10, 10}, {2, 0, 262145, 262145, 0}};
  ReadAll all = readBothWays(f);
  CHECK(all.records.size() == 1);
  CHECK(all.last == PcapReadResult::kError);
  CHECK(all.error == "invalid packet capture length 262145, bigger than snaplen of 65535");

  f.records[1] = {2, 0, 262144, 262144};  // exactly the limit: cut to the snaplen
  ReadAll ok = readBothWays(f);
  REQUIRE(ok.records.size() == 2);
  CHECK(ok.records[1].caplen == 65535);
  CHECK(ok.last == PcapReadResult::kEnd);
}

TEST_CASE("a file with only its header is mapped and ends at once") {
  FileSpec f;
  ReadAll all = readBothWays(f);
  CHECK(all.records.empty());
  CHECK(all.last == PcapReadResult::kEnd);
}

TEST_CASE("records appended after opening are read too, as libpcap would") {
  FileSpec f = threeRecords(false, false);
  std::string bytes = classicPcap(f);
  const size_t first_two = 24 + 16 + 60 + 16 + 1;
  TempFile file(bytes.substr(0, first_two));
  PcapFileSource source(file.path, 65535);
  REQUIRE(source.isMapped());
  PcapRecord r;
  CHECK(source.readRecord(r) == PcapReadResult::kRecord);
  const uint8_t* first = r.data;
  FILE* out = std::fopen(file.path.c_str(), "ab");
  REQUIRE(out != nullptr);
  std::fwrite(bytes.data() + first_two, 1, bytes.size() - first_two, out);
  std::fclose(out);
  CHECK(source.readRecord(r) == PcapReadResult::kRecord);
  CHECK(source.readRecord(r) == PcapReadResult::kRecord);
  CHECK(r.caplen == 1500);
  CHECK(r.data[1499] == dataByte(2, 1499));
  CHECK(source.readRecord(r) == PcapReadResult::kEnd);
  // Workers may still hold the first packet, handed over in place: the
  // first mapping lives on with the source.
  CHECK(first[0] == dataByte(0, 0));
  CHECK(first[59] == dataByte(0, 59));
}

TEST_CASE("a file that keeps growing is mapped anew once, then moved, and read to its end") {
  FileSpec f = threeRecords(false, false);
  std::string bytes = classicPcap(f);
  const size_t first_two = 24 + 16 + 60 + 16 + 1;  // record 1 and a byte of record 2
  TempFile file(bytes.substr(0, first_two));
  PcapFileSource source(file.path, 65535);
  REQUIRE(source.isMapped());
  const auto append = [&](size_t from, size_t to) {
    FILE* out = std::fopen(file.path.c_str(), "ab");
    REQUIRE(out != nullptr);
    std::fwrite(bytes.data() + from, 1, to - from, out);
    std::fclose(out);
  };
  PcapRecord r;
  REQUIRE(source.readRecord(r) == PcapReadResult::kRecord);
  const uint8_t* first = r.data;
  append(first_two, bytes.size() - 100);  // record 2, most of record 3
  CHECK(source.readRecord(r) == PcapReadResult::kRecord);  // first growth: a new mapping
  CHECK(source.readRecord(r) == PcapReadResult::kError);   // record 3 is cut for now
  append(bytes.size() - 100, bytes.size());
  CHECK(source.readRecord(r) == PcapReadResult::kRecord);  // later growth: the mapping moves
  CHECK(r.caplen == 1500);
  CHECK(r.data[1499] == dataByte(2, 1499));
  CHECK(source.readRecord(r) == PcapReadResult::kEnd);
  CHECK(first[59] == dataByte(0, 59));  // the first mapping, kept
  // Two mappings of the file, however often it grew: the first one (packets
  // in flight) and the current one.
  std::ifstream maps("/proc/self/maps");
  int mappings = 0;
  for (std::string line; std::getline(maps, line);) mappings += line.find(file.path) != std::string::npos;
  CHECK(mappings == 2);
}

TEST_CASE("a pcapng file is still read by libpcap, in nanoseconds") {
  std::string ng;
  auto u32 = [&](uint32_t v) { put32(ng, v, false); };
  u32(0x0A0D0D0A), u32(28), u32(0x1A2B3C4D), put16(ng, 1, false), put16(ng, 0, false), u32(~0u), u32(~0u), u32(28);
  u32(1), u32(20), put16(ng, 1, false), put16(ng, 0, false), u32(65535), u32(20);
  const uint64_t micros = 1700000000'123456ull;  // default if_tsresol: µs
  u32(6), u32(32 + 12), u32(0), u32(uint32_t(micros >> 32)), u32(uint32_t(micros)), u32(10), u32(20);
  for (int i = 0; i < 12; ++i) ng.push_back(char(i < 10 ? dataByte(0, i) : 0));
  u32(32 + 12);
  TempFile file(ng);
  ReadAll all = readAll(file.path, PcapFileSource::ReadMode::kMapClassicPcap);
  CHECK_FALSE(all.mapped);
  REQUIRE(all.records.size() == 1);
  CHECK(all.records[0] == Got{1700000000'123456000, 10, 20, expectedBytes(0, 10)});
  CHECK(all.last == PcapReadResult::kEnd);
}

TEST_CASE("a classic pcap arriving through a FIFO is read by libpcap") {
  std::string path = "/tmp/tapflow_pcap_fifo_" + std::to_string(getpid());
  unlink(path.c_str());
  REQUIRE(mkfifo(path.c_str(), 0600) == 0);
  std::string bytes = classicPcap(threeRecords(true, true));
  std::thread writer([&] {
    FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr) return;
    std::fwrite(bytes.data(), 1, bytes.size(), out);
    std::fclose(out);
  });
  ReadAll all = readAll(path, PcapFileSource::ReadMode::kMapClassicPcap);
  writer.join();
  unlink(path.c_str());
  CHECK_FALSE(all.mapped);
  REQUIRE(all.records.size() == 3);
  CHECK(all.records[2] == Got{1700000002'000000000, 1500, 1500, expectedBytes(2, 1500)});
  CHECK(all.last == PcapReadResult::kEnd);
}

TEST_CASE("a link type tapflow cannot decode is refused by name on both paths") {
  FileSpec f;
  f.linktype = 105;  // IEEE 802.11
  TempFile file(classicPcap(f));
  for (auto mode : {PcapFileSource::ReadMode::kMapClassicPcap, PcapFileSource::ReadMode::kLibpcapOnly}) {
    CHECK_THROWS_WITH_AS(PcapFileSource(file.path, 65535, mode),
                         ("cannot read pcap " + file.path + ": unsupported link type 105 (IEEE802_11)").c_str(),
                         std::runtime_error);
  }
}

TEST_CASE("a raw IPv4 link type (LINKTYPE_RAW 101) maps as libpcap maps it") {
  FileSpec f;
  f.linktype = 101;
  f.records = {{1, 0, 20, 20}};
  ReadAll all = readBothWays(f);
  CHECK(all.records.size() == 1);
}
