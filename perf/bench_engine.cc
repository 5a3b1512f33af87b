// The engine benchmark: how many packets per second one core decodes and
// tracks flows for, from packets already in memory, against a bare floor.
//
// Usage: bench_engine FILE.pcap [--reps N] [--burst N] [--max-flows N] [--prefetch D]
//                    [--only V,...] [--quick]
//
// The pcap is read once (libpcap) into one contiguous arena, each packet at a
// 64-byte aligned offset as a NIC ring's buffers are; every variant then walks
// the same memory, several times, and the best and median runs are reported:
//   floor         read ethertype and IP addresses of every packet and sum them
//   decode        decodePacket() on every packet (what the capture thread does)
//   engine        decode into bursts + FlowEngine::process() per burst (what
//                 one core does when it both captures and works), records to a
//                 sink that counts them
//   engine+json   the same, the sink encoding each record to JSON with
//                 encodeFlowEvent() into a reused string
//   flows only    FlowEngine::process() on packets decoded beforehand (where
//                 the engine's own share of the time goes)
// The packet loops prefetch each packet's headers kPrefetchPackets ahead, as
// tapflow's AF_XDP and DPDK capture loops do; --prefetch 0 times them cold.
// Global operator new/delete are replaced by counting versions, switched on
// only around each timed packet loop: the flow table and the defragmenter are
// preallocated, so the engine loop must show 0 allocations.
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "capture/pcap_source.h"
#include "export/flow_event.h"
#include "packet/decoder.h"
#include "worker/flow_engine.h"

// ------------------------------------------------------- allocation counting

namespace {

// Thread-local: only the benchmark thread's allocations are counted, not
// those of a profiler's helper thread (heaptrack runs one in the process).
thread_local bool t_counting = false;
thread_local uint64_t t_allocations = 0;
thread_local uint64_t t_allocated_bytes = 0;
thread_local uint64_t t_frees = 0;

void* countedAlloc(std::size_t n) {
  if (t_counting) {
    ++t_allocations;
    t_allocated_bytes += n;
  }
  return std::malloc(n != 0 ? n : 1);
}

void* countedAlignedAlloc(std::size_t n, std::align_val_t al) {
  if (t_counting) {
    ++t_allocations;
    t_allocated_bytes += n;
  }
  const std::size_t a = std::max(sizeof(void*), static_cast<std::size_t>(al));
  const std::size_t size = (std::max<std::size_t>(n, 1) + a - 1) / a * a;  // aligned_alloc wants a multiple
  return std::aligned_alloc(a, size);
}

void countedFree(void* p) {
  if (p != nullptr && t_counting) ++t_frees;
  std::free(p);
}

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = countedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = countedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return countedAlloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return countedAlloc(n); }
void* operator new(std::size_t n, std::align_val_t al) {
  if (void* p = countedAlignedAlloc(n, al)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t al) {
  if (void* p = countedAlignedAlloc(n, al)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return countedAlignedAlloc(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return countedAlignedAlloc(n, al);
}
void operator delete(void* p) noexcept { countedFree(p); }
void operator delete[](void* p) noexcept { countedFree(p); }
void operator delete(void* p, std::size_t) noexcept { countedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { countedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { countedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { countedFree(p); }
void operator delete(void* p, std::align_val_t) noexcept { countedFree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { countedFree(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { countedFree(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { countedFree(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { countedFree(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { countedFree(p); }

namespace tapflow {
namespace {

struct AllocationCount {
  uint64_t allocations = 0;
  uint64_t bytes = 0;
  uint64_t frees = 0;
};

// Counts this thread's heap allocations between construction and stop().
class AllocationWindow {
 public:
  AllocationWindow() {
    t_allocations = 0;
    t_allocated_bytes = 0;
    t_frees = 0;
    t_counting = true;
  }
  AllocationCount stop() {
    t_counting = false;
    return {t_allocations, t_allocated_bytes, t_frees};
  }
};

// ------------------------------------------------------------ packets in memory

struct PacketRef {
  uint64_t offset;  // into the arena
  uint32_t cap_len;
  uint32_t wire_len;
  Timestamp ts;
};

constexpr std::size_t kPacketAlign = 64;

// The arena's base is cache-line aligned, so 64-byte offsets are 64-byte addresses.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kPacketAlign))); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(kPacketAlign)); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
};

struct PacketStore {
  std::vector<uint8_t, CacheLineAllocator<uint8_t>> arena;
  std::vector<PacketRef> packets;
  LinkType link = LinkType::kEthernet;
  uint64_t wire_bytes = 0;
  uint64_t captured_bytes = 0;

  const uint8_t* data(const PacketRef& p) const { return arena.data() + p.offset; }
};

bool loadPcap(const std::string& path, PacketStore& store, std::string& error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pcap = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (pcap == nullptr) {
    error = "cannot read pcap " + path + ": " + errbuf;
    return false;
  }
  const int dlt = pcap_datalink(pcap);
  if (!linkTypeFromDlt(dlt, store.link)) {
    error = "cannot read pcap " + path + ": unsupported link type " + std::to_string(dlt);
    pcap_close(pcap);
    return false;
  }
  // The file size bounds the arena (plus alignment): reserve it once, so the
  // packets end up in one block with no copy on growth.
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (!ec) {
    store.arena.reserve(file_size + file_size / 4);
    store.packets.reserve(file_size / 64);
  }
  pcap_pkthdr* header = nullptr;
  const u_char* bytes = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pcap, &header, &bytes)) == 1) {
    const uint64_t offset = (store.arena.size() + kPacketAlign - 1) / kPacketAlign * kPacketAlign;
    store.arena.resize(offset + header->caplen);
    std::memcpy(store.arena.data() + offset, bytes, header->caplen);
    const Timestamp ts = Timestamp(header->ts.tv_sec) * kNanosPerSecond + Timestamp(header->ts.tv_usec);
    store.packets.push_back(PacketRef{offset, header->caplen, header->len, ts});
    store.wire_bytes += header->len;
    store.captured_bytes += header->caplen;
  }
  if (rc == -1) {
    // A damaged tail ends the read, as in tapflow itself; say so.
    std::fprintf(stderr, "bench_engine: %s: %s (kept the %zu packets before it)\n", path.c_str(), pcap_geterr(pcap),
                 store.packets.size());
  }
  pcap_close(pcap);
  if (store.packets.empty()) {
    error = "no packets in " + path;
    return false;
  }
  return true;
}

// ------------------------------------------------------------------- variants

inline uint16_t load16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The passes are kept out of line so that profilers (perf, callgrind
// --toggle-collect) see each packet loop as a function of its own.

// Software prefetch of the packet `distance` places ahead, as tapflow's
// capture loops do (prefetchPacket(), kPrefetchPackets ahead): its first two
// cache lines hold every header the decoder reads. 0: none, the cold loop.
inline void prefetchAhead(const PacketStore& store, size_t i, size_t distance) {
  if (distance == 0 || i + distance >= store.packets.size()) return;
  prefetchPacket(store.data(store.packets[i + distance]));
}

// (a) The floor: the least a packet loop does, read the link type and the
// outer IP addresses, bounds-checked, so the bytes must come into the cache.
[[gnu::noinline]] uint64_t floorPass(const PacketStore& store, size_t prefetch) {
  uint64_t sum = 0;
  const bool ethernet = store.link == LinkType::kEthernet;
  const size_t n = store.packets.size();
  for (size_t i = 0; i < n; ++i) {
    prefetchAhead(store, i, prefetch);
    const PacketRef& p = store.packets[i];
    const uint8_t* d = store.data(p);
    uint32_t l3 = 0;
    uint16_t type = 0;
    if (ethernet) {
      if (p.cap_len < 14) continue;
      type = load16(d + 12);
      l3 = 14;
    } else {
      if (p.cap_len < 1) continue;
      type = (d[0] >> 4) == 6 ? 0x86dd : 0x0800;
    }
    sum += type;
    if (type == 0x0800 && p.cap_len >= l3 + 20) {
      sum += load32(d + l3 + 12) + load32(d + l3 + 16);
    } else if (type == 0x86dd && p.cap_len >= l3 + 40) {
      sum += load64(d + l3 + 8) ^ load64(d + l3 + 16) ^ load64(d + l3 + 24) ^ load64(d + l3 + 32);
    }
  }
  return sum;
}

// (b) Decode only, into one reused DecodedPacket as the capture thread does.
[[gnu::noinline]] uint64_t decodePass(const PacketStore& store, size_t prefetch, DecodeStats& stats) {
  DecodedPacket out;
  uint64_t sum = 0;
  const size_t n = store.packets.size();
  for (size_t i = 0; i < n; ++i) {
    prefetchAhead(store, i, prefetch);
    const PacketRef& p = store.packets[i];
    if (decodePacket(store.data(p), p.cap_len, p.wire_len, p.ts, store.link, out, stats) == DecodeResult::kOk) {
      sum += out.src_port + out.payload_len;
    }
  }
  return sum;
}

class CountingSink : public FlowRecordSink {
 public:
  void onFlowRecord(const Flow& flow, FlowEndReason, bool) override {
    ++records_;
    packets_ += flow.dir[0].packets + flow.dir[1].packets;
  }
  uint64_t records() const { return records_; }
  uint64_t packets() const { return packets_; }

 private:
  uint64_t records_ = 0;
  uint64_t packets_ = 0;
};

// Encodes every record as the worker does, into one string reused per record.
class JsonSink : public FlowRecordSink {
 public:
  JsonSink() { event_.reserve(2048); }
  void onFlowRecord(const Flow& flow, FlowEndReason reason, bool final) override {
    event_.clear();
    encodeFlowEvent(flow, reason, final, event_);
    ++records_;
    bytes_ += event_.size();
  }
  uint64_t records() const { return records_; }
  uint64_t bytes() const { return bytes_; }

 private:
  std::string event_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
};

// (c) Decode into bursts and run the engine on each, on one thread.
[[gnu::noinline]] void enginePass(const PacketStore& store, size_t prefetch, FlowEngine& engine, DecodedPacket* burst,
                                  size_t burst_size, DecodeStats& stats) {
  size_t k = 0;
  const size_t n = store.packets.size();
  for (size_t i = 0; i < n; ++i) {
    prefetchAhead(store, i, prefetch);
    const PacketRef& p = store.packets[i];
    if (decodePacket(store.data(p), p.cap_len, p.wire_len, p.ts, store.link, burst[k], stats) == DecodeResult::kOk &&
        ++k == burst_size) {
      engine.process(burst, k);
      k = 0;
    }
  }
  if (k > 0) engine.process(burst, k);
}

// (d) The engine alone, on packets decoded beforehand.
[[gnu::noinline]] void flowsOnlyPass(const std::vector<DecodedPacket>& decoded, FlowEngine& engine, size_t burst_size) {
  for (size_t i = 0; i < decoded.size(); i += burst_size) {
    engine.process(decoded.data() + i, std::min(burst_size, decoded.size() - i));
  }
}

// ------------------------------------------------------------------- timing

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Wall time and this thread's CPU time of one run. On a shared machine the
// CPU time is the per-core figure (time spent descheduled is not the code's);
// on an idle one the two agree.
class Stopwatch {
 public:
  Stopwatch() : wall_(Clock::now()), cpu_(threadCpuSeconds()) {}
  double wall() const { return since(wall_); }
  double cpu() const { return threadCpuSeconds() - cpu_; }

 private:
  Clock::time_point wall_;
  double cpu_;
};

struct Timing {
  std::vector<double> cpu;
  std::vector<double> wall;

  void add(double cpu_seconds, double wall_seconds) {
    cpu.push_back(cpu_seconds);
    wall.push_back(wall_seconds);
  }
  static double best(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
};

struct Row {
  std::string key;    // for the RESULT line
  std::string label;  // for people
  uint64_t packets = 0;
  uint64_t wire_bytes = 0;
  Timing timing;
};

void printRows(const std::vector<Row>& rows) {
  const Row* floor_row = nullptr;
  for (const Row& r : rows) {
    if (r.key == "floor") floor_row = &r;
  }
  std::printf("\n%-42s %9s %9s %9s %8s %8s %8s %8s\n", "variant (1 core, packets in memory)", "best ms", "median ms",
              "wall ms", "Mpps", "Gbit/s", "ns/pkt", "x floor");
  for (const Row& r : rows) {
    const double best = Timing::best(r.timing.cpu);
    char ratio[16] = "-";
    if (floor_row != nullptr) std::snprintf(ratio, sizeof ratio, "%.2f", best / Timing::best(floor_row->timing.cpu));
    std::printf("%-42s %9.2f %9.2f %9.2f %8.2f %8.2f %8.1f %8s\n", r.label.c_str(), best * 1e3,
                Timing::median(r.timing.cpu) * 1e3, Timing::best(r.timing.wall) * 1e3, double(r.packets) / best / 1e6,
                double(r.wire_bytes) * 8 / best / 1e9, best * 1e9 / double(r.packets), ratio);
  }
  std::printf("(best and median of the thread's CPU time per run; wall ms is the best wall-clock run)\n\n");
  for (const Row& r : rows) {
    std::printf("RESULT %s packets=%" PRIu64 " wire_bytes=%" PRIu64 " best_s=%.6f median_s=%.6f wall_best_s=%.6f\n",
                r.key.c_str(), r.packets, r.wire_bytes, Timing::best(r.timing.cpu), Timing::median(r.timing.cpu),
                Timing::best(r.timing.wall));
  }
}

template <typename Stats>
void printNonZero(const char* title, const Stats& stats) {
  std::printf("%s:", title);
  bool any = false;
  stats.forEach([&any](const char* name, const char*, const Counter& c) {
    if (c.value() == 0) return;
    std::printf(" %s=%" PRIu64, name, c.value());
    any = true;
  });
  std::printf(any ? "\n" : " all zero\n");
}

std::string loadAverage() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "unknown";
  char buf[64] = {};
  const bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
  std::fclose(f);
  if (!ok) return "unknown";
  std::string s(buf);
  // The first three fields: 1, 5 and 15 minute averages.
  size_t end = 0;
  for (int i = 0; i < 3 && end != std::string::npos; ++i) end = s.find(' ', end + 1);
  return s.substr(0, end);
}

// ------------------------------------------------------------------ options

constexpr const char* kVariants[] = {"floor", "decode", "engine", "engine_json", "flows_only"};

struct Options {
  std::string path;
  int reps = 5;
  size_t burst = 64;
  uint32_t max_flows = 262144;  // the product default (flows.max_flows, per worker)
  size_t prefetch = kPrefetchPackets;  // as the capture loops
  std::vector<std::string> only;

  bool wants(const char* variant) const {
    return only.empty() || std::find(only.begin(), only.end(), variant) != only.end();
  }
};

void usage() {
  std::fprintf(stderr,
               "usage: bench_engine FILE.pcap [--reps N] [--burst N] [--max-flows N] [--prefetch D]\n"
               "                    [--only V[,V...]] [--quick]\n"
               "  --reps N       timed runs of each variant (default 5); best and median are shown\n"
               "  --burst N      packets per FlowEngine::process() call, 1..%zu (default 64, as the worker)\n"
               "  --max-flows N  flow table size (default 262144, tapflow's default); keep it above the\n"
               "                 pcap's flow count, or evictions are measured too\n"
               "  --prefetch D   prefetch each packet's headers D packets ahead in the loops, as the capture\n"
               "                 loops do (default %u, theirs); 0: no prefetch, each packet's first touch waits\n"
               "  --only LIST    variants to run, of: floor,decode,engine,engine_json,flows_only\n"
               "  --quick        one run of each variant (for heaptrack, perf record or callgrind)\n",
               FlowEngine::kMaxBurst, kPrefetchPackets);
}

bool parseOptions(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto number = [&](long lo, long hi, long& out) {
      if (i + 1 >= argc) return false;
      char* end = nullptr;
      out = std::strtol(argv[++i], &end, 10);
      return *end == '\0' && out >= lo && out <= hi;
    };
    long v = 0;
    if (a == "--reps") {
      if (!number(1, 1000, v)) return false;
      o.reps = int(v);
    } else if (a == "--burst") {
      if (!number(1, long(FlowEngine::kMaxBurst), v)) return false;
      o.burst = size_t(v);
    } else if (a == "--max-flows") {
      if (!number(1, 1L << 26, v)) return false;
      o.max_flows = uint32_t(v);
    } else if (a == "--prefetch") {
      if (!number(0, 64, v)) return false;
      o.prefetch = size_t(v);
    } else if (a == "--only") {
      if (i + 1 >= argc) return false;
      std::string list = argv[++i];
      for (size_t begin = 0; begin <= list.size();) {
        size_t comma = list.find(',', begin);
        if (comma == std::string::npos) comma = list.size();
        std::string name = list.substr(begin, comma - begin);
        if (std::find(std::begin(kVariants), std::end(kVariants), name) == std::end(kVariants)) {
          std::fprintf(stderr, "bench_engine: unknown variant '%s'\n", name.c_str());
          return false;
        }
        o.only.push_back(name);
        begin = comma + 1;
      }
    } else if (a == "--quick") {
      o.reps = 1;
    } else if (a == "-h" || a == "--help") {
      usage();
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') {
      return false;
    } else if (o.path.empty()) {
      o.path = a;
    } else {
      return false;
    }
  }
  return !o.path.empty();
}

}  // namespace
}  // namespace tapflow

int main(int argc, char** argv) {
  using namespace tapflow;
  Options opt;
  if (!parseOptions(argc, argv, opt)) {
    usage();
    return 1;
  }

  PacketStore store;
  std::string error;
  auto load_start = Clock::now();
  if (!loadPcap(opt.path, store, error)) {
    std::fprintf(stderr, "bench_engine: %s\n", error.c_str());
    return 2;
  }
  const uint64_t n = store.packets.size();
  const Timestamp last_ts = store.packets.back().ts;
  std::printf("loaded %s: %" PRIu64 " packets, %" PRIu64 " wire bytes (mean %.0f), %" PRIu64
              " captured; arena %.0f MiB, in %.2f s\n",
              opt.path.c_str(), n, store.wire_bytes, double(store.wire_bytes) / double(n), store.captured_bytes,
              double(store.arena.size()) / (1 << 20), since(load_start));
  std::printf("runs per variant: %d; burst: %zu; prefetch distance: %zu; flow table: max_flows=%u, default timeouts\n",
              opt.reps, opt.burst, opt.prefetch, opt.max_flows);
  std::printf("load average before the runs: %s (2 cores; a busy machine slows the runs' wall time)\n",
              loadAverage().c_str());

  FlowTableConfig flow_config;
  flow_config.max_flows = opt.max_flows;
  DefragConfig defrag_config;
  std::vector<Row> rows;
  uint64_t checksum = 0;  // every pass's result goes in and is printed: nothing can be optimised away

  if (opt.wants("floor")) {
    Row row{"floor", "floor: read ethertype + IP addresses", n, store.wire_bytes, {}};
    for (int r = 0; r < opt.reps; ++r) {
      Stopwatch sw;
      checksum += floorPass(store, opt.prefetch);
      row.timing.add(sw.cpu(), sw.wall());
    }
    rows.push_back(std::move(row));
  }

  std::unique_ptr<DecodeStats> decode_stats;  // the last run's, for the summary
  if (opt.wants("decode")) {
    Row row{"decode", "decode: decodePacket()", n, store.wire_bytes, {}};
    for (int r = 0; r < opt.reps; ++r) {
      auto stats = std::make_unique<DecodeStats>();
      Stopwatch sw;
      checksum += decodePass(store, opt.prefetch, *stats);
      row.timing.add(sw.cpu(), sw.wall());
      decode_stats = std::move(stats);
    }
    rows.push_back(std::move(row));
  }

  // (c) decode + engine, with each sink. The engine is built before the clock
  // starts (its table and defragmenter are allocated and touched then) and
  // finished after it stops (end of input is once per run, not per packet).
  std::vector<DecodedPacket> burst(opt.burst);
  struct EngineResult {
    bool ran = false;
    AllocationCount allocs;
    uint64_t records = 0;
    uint64_t loop_records = 0;
    uint64_t json_bytes = 0;
    double finish_seconds = 0;
  } counted, json;
  std::unique_ptr<FlowEngine> last_engine;  // the last counted run's, for the summary
  std::unique_ptr<CountingSink> last_sink;
  for (int with_json = 0; with_json < 2; ++with_json) {
    if (!opt.wants(with_json ? "engine_json" : "engine")) continue;
    EngineResult& result = with_json ? json : counted;
    Row row{with_json ? "engine_json" : "engine",
            with_json ? "decode + defrag + flows, JSON records" : "decode + defrag + flows, counted records",
            n,
            store.wire_bytes,
            {}};
    for (int r = 0; r < opt.reps; ++r) {
      if (!with_json) last_engine.reset();  // one counted table in memory at a time
      auto counting = std::make_unique<CountingSink>();
      auto encoder = std::make_unique<JsonSink>();
      FlowRecordSink& sink = with_json ? static_cast<FlowRecordSink&>(*encoder) : *counting;
      auto engine = std::make_unique<FlowEngine>(flow_config, defrag_config, sink);
      DecodeStats stats;
      AllocationWindow window;
      Stopwatch sw;
      enginePass(store, opt.prefetch, *engine, burst.data(), opt.burst, stats);
      const double cpu = sw.cpu(), wall = sw.wall();
      const AllocationCount allocs = window.stop();
      row.timing.add(cpu, wall);
      result.ran = true;
      result.allocs.allocations = std::max(result.allocs.allocations, allocs.allocations);
      result.allocs.bytes = std::max(result.allocs.bytes, allocs.bytes);
      result.loop_records = with_json ? encoder->records() : counting->records();
      Stopwatch finish;
      engine->finish(last_ts, FlowEndReason::kEndOfInput);
      result.finish_seconds = finish.cpu();
      result.records = with_json ? encoder->records() : counting->records();
      result.json_bytes = encoder->bytes();
      checksum += stats.packets.value() + result.records;
      if (!with_json) {
        last_engine = std::move(engine);
        last_sink = std::move(counting);
      }
    }
    rows.push_back(std::move(row));
  }

  AllocationCount flows_allocs{};
  if (opt.wants("flows_only")) {
    std::vector<DecodedPacket> decoded;
    decoded.reserve(n);
    DecodeStats stats;
    DecodedPacket out;
    for (const PacketRef& p : store.packets) {
      if (decodePacket(store.data(p), p.cap_len, p.wire_len, p.ts, store.link, out, stats) == DecodeResult::kOk) {
        decoded.push_back(out);
      }
    }
    Row row{"flows_only", "defrag + flows only (pre-decoded)", n, store.wire_bytes, {}};
    for (int r = 0; r < opt.reps; ++r) {
      CountingSink sink;
      FlowEngine engine(flow_config, defrag_config, sink);
      AllocationWindow window;
      Stopwatch sw;
      flowsOnlyPass(decoded, engine, opt.burst);
      const double cpu = sw.cpu(), wall = sw.wall();
      const AllocationCount allocs = window.stop();
      row.timing.add(cpu, wall);
      flows_allocs.allocations = std::max(flows_allocs.allocations, allocs.allocations);
      engine.finish(last_ts, FlowEndReason::kEndOfInput);
      checksum += sink.records();
    }
    rows.push_back(std::move(row));
  }

  printRows(rows);

  std::printf("\n");
  if (counted.ran) std::printf("allocations during packet loop: %" PRIu64 "\n", counted.allocs.allocations);
  if (json.ran) {
    std::printf("allocations during packet loop with JSON encoding: %" PRIu64 " (%" PRIu64 " bytes)\n",
                json.allocs.allocations, json.allocs.bytes);
  }
  if (opt.wants("flows_only")) {
    std::printf("allocations during packet loop, engine alone: %" PRIu64 "\n", flows_allocs.allocations);
  }
  if (counted.ran || json.ran) {
    const EngineResult& r = counted.ran ? counted : json;
    std::printf("flow records: %" PRIu64 " (%" PRIu64 " during the packet loop, the rest at end of input in %.2f ms)",
                r.records, r.loop_records, r.finish_seconds * 1e3);
    if (json.ran)
      std::printf("; JSON: %" PRIu64 " records, %.1f MiB", json.records, double(json.json_bytes) / (1 << 20));
    std::printf("\n");
  }
  if (decode_stats) printNonZero("decode", *decode_stats);
  if (last_engine) {
    const FlowEngine& e = *last_engine;
    const FlowStats& fs = e.flows().stats();
    if (fs.ended_evicted.value() != 0) {
      std::printf("WARNING: %" PRIu64 " flows were evicted: raise --max-flows above the pcap's flow count\n",
                  fs.ended_evicted.value());
    }
    printNonZero("flows", fs);
    printNonZero("defrag", e.defrag().stats());
    printNonZero("reassembled decode", e.reassembledDecodeStats());
    printNonZero("engine", e.stats());
    std::printf("packets accounted to flows: %" PRIu64 " (table) = %" PRIu64 " (records)\n", fs.packets.value(),
                last_sink->packets());
  }
  std::printf("sizeof(DecodedPacket)=%zu sizeof(Flow)=%zu\n", sizeof(DecodedPacket), sizeof(Flow));
  std::printf("checksum of all passes: %016" PRIx64 "\n", checksum);
  return 0;
}
