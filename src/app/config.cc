// tapflow's configuration loader: YAML text to Config, every error located.
// One decode function per section, in the spirit of yaml-cpp's convert<>, but
// each one carries the key path so that errors can name it (convert<>::decode
// can only return false). Cross-field checks run once every section is read.
#include "app/config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace tapflow {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

constexpr Duration kMicrosecond = 1000;
constexpr Duration kMillisecond = 1000 * kMicrosecond;
constexpr Duration kSecond = kNanosPerSecond;
constexpr Duration kMinute = 60 * kSecond;
constexpr Duration kHour = 60 * kMinute;

// A config file is a few KiB: refusing big ones catches `--config /dev/zero`
// or a pcap passed by mistake before yaml-cpp chews on it.
constexpr size_t kMaxFileBytes = 1 << 20;

// Echoed values are cut so that a stray blob cannot flood the terminal.
constexpr size_t kMaxEcho = 40;

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// The unit named "" is what a plain number means.
constexpr Unit kDurationUnits[] = {
    {"", kSecond}, {"ns", 1},       {"us", kMicrosecond}, {"ms", kMillisecond},
    {"s", kSecond}, {"m", kMinute}, {"h", kHour},
};

// Binary units are what buffers are sized in; the decimal ones are accepted
// because people write them, and mean what they say (KB = 1000 bytes).
constexpr Unit kSizeUnits[] = {
    {"", 1},        {"B", 1},         {"KiB", kKiB},          {"MiB", kMiB},
    {"GiB", kGiB},  {"KB", 1000},     {"MB", 1000'000},       {"GB", 1000'000'000},
};

constexpr std::string_view kDurationHelp =
    "a number of seconds or a number with a unit (ns, us, ms, s, m, h) such as 250ms or 5m";
constexpr std::string_view kSizeHelp =
    "a number of bytes or a number with a unit (B, KiB, MiB, GiB, KB, MB, GB) such as 256KiB";

std::string formatDuration(Duration d) {
  static constexpr Unit kLargestFirst[] = {
      {"h", kHour}, {"m", kMinute}, {"s", kSecond}, {"ms", kMillisecond}, {"us", kMicrosecond}};
  if (d == 0) return "0s";
  for (const Unit& u : kLargestFirst) {
    if (d % static_cast<Duration>(u.factor) == 0) {
      return std::to_string(d / static_cast<Duration>(u.factor)) + std::string(u.name);
    }
  }
  return std::to_string(d) + "ns";
}

std::string formatSize(uint64_t bytes) {
  static constexpr Unit kLargestFirst[] = {{"GiB", kGiB}, {"MiB", kMiB}, {"KiB", kKiB}};
  if (bytes != 0) {
    for (const Unit& u : kLargestFirst) {
      if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + std::string(u.name);
    }
  }
  return std::to_string(bytes) + "B";
}

// Shown inside messages: cut, with control characters escaped.
std::string echo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxEcho; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxEcho) out += "...";
  return out;
}

// yaml-cpp tags plain scalars "?"; quoted and block scalars get "!", and
// explicit tags their own name. Only plain scalars can be numbers or booleans.
bool isPlain(const YAML::Node& node) { return node.Tag() == "?"; }

// What a node is, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return isPlain(node) ? echo(node.Scalar()) : "\"" + echo(node.Scalar()) + "\"";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// A value in the tree with the key path that reached it, so that every error
// can name both.
struct Field {
  YAML::Node node;
  std::string path;
  YAML::Mark key_mark;  // where the key was written: an empty value's own mark points past it
};

class Decoder {
 public:
  Decoder(std::string file, std::filesystem::path base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  [[noreturn]] void fail(const Field& f, const std::string& message) const {
    failAt(markOf(f), f.path, message);
  }

  [[noreturn]] void failAt(const YAML::Mark& mark, const std::string& path,
                           const std::string& message) const {
    // An empty document has no marks at all; its start is the honest place.
    const int line = mark.is_null() ? 1 : mark.line + 1;
    const int column = mark.is_null() ? 1 : mark.column + 1;
    std::string what = file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
    if (!path.empty()) what += path + ": ";
    throw ConfigError(what + message);
  }

  static YAML::Mark markOf(const Field& f) {
    if (!f.node.IsDefined() || f.node.IsNull() || f.node.Mark().is_null()) return f.key_mark;
    return f.node.Mark();
  }

  // Cross-field checks point at whichever of the keys involved was written.
  void remember(const Field& f) { seen_.insert_or_assign(f.path, f); }
  const Field* seen(const std::string& path) const {
    auto it = seen_.find(path);
    return it == seen_.end() ? nullptr : &it->second;
  }

  std::string resolvePath(const std::string& path) const {
    const std::filesystem::path p(path);
    if (p.is_absolute() || base_dir_.empty()) return path;
    return (base_dir_ / p).string();
  }

 private:
  std::string file_;
  std::filesystem::path base_dir_;
  std::map<std::string, Field> seen_;
};

// The keys of one map, checked against the names that map may hold: unknown
// and repeated keys are errors where they are written.
class MapReader {
 public:
  MapReader(Decoder& d, const Field& map, std::initializer_list<std::string_view> known,
            std::string_view what)
      : decoder_(d) {
    if (!map.node.IsDefined() || map.node.IsNull()) return;  // `section:` with nothing under it
    if (!map.node.IsMap()) d.fail(map, "expected " + std::string(what) + ", got " + describe(map.node));
    for (auto it = map.node.begin(); it != map.node.end(); ++it) {
      // Copies: yaml-cpp's iterator hands out a temporary pair.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) d.failAt(key.Mark(), map.path, "keys must be plain names, got " + describe(key));
      const std::string& name = key.Scalar();
      const std::string path = join(map.path, name);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        d.failAt(key.Mark(), path, unknownKeyMessage(name, known));
      }
      for (const auto& [earlier_name, earlier] : fields_) {
        if (earlier_name == name) {
          d.failAt(key.Mark(), path,
                   "given twice (first on line " + std::to_string(earlier.key_mark.line + 1) + ")");
        }
      }
      fields_.emplace_back(name, Field{value, path, key.Mark()});
    }
  }

  std::optional<Field> take(std::string_view key) {
    for (const auto& [name, f] : fields_) {
      if (name == key) {
        decoder_.remember(f);
        return f;
      }
    }
    return std::nullopt;
  }

 private:
  static std::string unknownKeyMessage(std::string_view name,
                                       std::initializer_list<std::string_view> known) {
    std::string_view best;
    size_t best_distance = 3;  // further than two edits away is not a typo
    for (std::string_view k : known) {
      const size_t distance = editDistance(name, k);
      if (distance < best_distance && distance < k.size()) {
        best = k;
        best_distance = distance;
      }
    }
    if (!best.empty()) return "unknown key; did you mean " + std::string(best) + "?";
    std::string message = "unknown key; expected one of ";
    bool first = true;
    for (std::string_view k : known) {
      if (!first) message += ", ";
      message += k;
      first = false;
    }
    return message;
  }

  Decoder& decoder_;
  std::vector<std::pair<std::string, Field>> fields_;
};

// --- scalar readers -------------------------------------------------------

std::string rangeMessage(const std::string& low, const std::string& high, const std::string& got) {
  return "must be between " + low + " and " + high + ", got " + got;
}

bool parseInteger(std::string_view s, int64_t& out, bool& overflow) {
  overflow = false;
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) return false;
  }
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (end != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    overflow = true;
    return true;
  }
  return ec == std::errc();
}

int64_t readInteger(const Decoder& d, const Field& f, int64_t low, int64_t high) {
  if (!f.node.IsScalar()) d.fail(f, "expected an integer, got " + describe(f.node));
  const std::string& text = f.node.Scalar();
  int64_t value = 0;
  bool overflow = false;
  const bool parsed = parseInteger(text, value, overflow);
  if (!isPlain(f.node)) {
    if (parsed) d.fail(f, "expected an integer, got the string \"" + echo(text) + "\" (drop the quotes)");
    d.fail(f, "expected an integer, got " + describe(f.node));
  }
  if (!parsed) d.fail(f, "expected an integer, got " + describe(f.node));
  if (overflow || value < low || value > high) {
    d.fail(f, rangeMessage(std::to_string(low), std::to_string(high), echo(text)));
  }
  return value;
}

uint32_t readUint32(const Decoder& d, const Field& f, uint32_t low, uint32_t high) {
  return static_cast<uint32_t>(readInteger(d, f, low, high));
}

bool readBool(const Decoder& d, const Field& f) {
  if (f.node.IsScalar() && isPlain(f.node)) {
    // YAML 1.2's core schema: yes/no/on/off are strings there, so not booleans here.
    const std::string& s = f.node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  d.fail(f, "expected true or false, got " + describe(f.node));
}

std::string readString(const Decoder& d, const Field& f) {
  if (!f.node.IsScalar()) d.fail(f, "expected a string, got " + describe(f.node));
  return f.node.Scalar();
}

std::string readOneOf(const Decoder& d, const Field& f, std::initializer_list<std::string_view> allowed) {
  const std::string value = readString(d, f);
  std::string list;
  for (std::string_view a : allowed) {
    if (value == a) return value;
    if (!list.empty()) list += ", ";
    list += a;
  }
  d.fail(f, "must be one of " + list + ", got " + describe(f.node));
}

std::string readPath(const Decoder& d, const Field& f) {
  const std::string path = readString(d, f);
  if (path.empty()) d.fail(f, "must not be empty");
  return path;
}

// "1.5ms" as 15, one fractional digit, unit "ms". A space may sit between
// number and unit. Returns nullopt for anything else.
struct Quantity {
  uint64_t mantissa = 0;
  int fraction_digits = 0;
  bool negative = false;
  std::string_view unit;
};

std::optional<Quantity> splitQuantity(std::string_view s) {
  constexpr uint64_t kMaxMantissa = 999'999'999'999'999'999ull;  // 18 digits: no overflow below
  Quantity q;
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) q.negative = s[i++] == '-';
  size_t digits = 0;
  bool in_fraction = false;
  for (; i < s.size(); ++i) {
    if (s[i] == '.' && !in_fraction) {
      in_fraction = true;
      continue;
    }
    if (s[i] < '0' || s[i] > '9') break;
    if (q.mantissa > (kMaxMantissa - 9) / 10) return std::nullopt;
    q.mantissa = q.mantissa * 10 + static_cast<uint64_t>(s[i] - '0');
    ++digits;
    if (in_fraction) ++q.fraction_digits;
  }
  if (digits == 0 || (in_fraction && q.fraction_digits == 0)) return std::nullopt;
  while (i < s.size() && s[i] == ' ') ++i;
  q.unit = s.substr(i);
  return q;
}

uint64_t powerOfTen(int n) {
  uint64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

// A number and its unit's factor. A number without a unit must be plain:
// quoted text ("60") reads as a string that forgot its unit.
template <size_t N>
Quantity readQuantity(const Decoder& d, const Field& f, const Unit (&units)[N],
                      std::string_view help, uint64_t& factor) {
  const std::string expected = "expected " + std::string(help) + ", got ";
  if (!f.node.IsScalar()) d.fail(f, expected + describe(f.node));
  const std::optional<Quantity> q = splitQuantity(f.node.Scalar());
  if (!q || (q->unit.empty() && !isPlain(f.node))) d.fail(f, expected + describe(f.node));
  factor = 0;
  for (const Unit& u : units) {
    if (q->unit == u.name) factor = u.factor;
  }
  if (factor == 0) d.fail(f, expected + describe(f.node));
  if (q->negative && q->mantissa != 0) d.fail(f, "must not be negative, got " + describe(f.node));
  return *q;
}

Duration readDuration(const Decoder& d, const Field& f, Duration low, Duration high) {
  uint64_t factor = 0;
  const Quantity q = readQuantity(d, f, kDurationUnits, kDurationHelp, factor);
  const unsigned __int128 divisor = powerOfTen(q.fraction_digits);
  // Rounded to the nanosecond: nobody means a tenth of one.
  const unsigned __int128 ns =
      (static_cast<unsigned __int128>(q.mantissa) * factor + divisor / 2) / divisor;
  if (ns < static_cast<unsigned __int128>(low) || ns > static_cast<unsigned __int128>(high)) {
    d.fail(f, rangeMessage(formatDuration(low), formatDuration(high), describe(f.node)));
  }
  return static_cast<Duration>(ns);
}

uint64_t readSize(const Decoder& d, const Field& f, uint64_t low, uint64_t high) {
  uint64_t factor = 0;
  const Quantity q = readQuantity(d, f, kSizeUnits, kSizeHelp, factor);
  const unsigned __int128 divisor = powerOfTen(q.fraction_digits);
  const unsigned __int128 scaled = static_cast<unsigned __int128>(q.mantissa) * factor;
  if (scaled % divisor != 0) d.fail(f, "is not a whole number of bytes: " + describe(f.node));
  const unsigned __int128 bytes = scaled / divisor;
  if (bytes < low || bytes > high) {
    d.fail(f, rangeMessage(formatSize(low), formatSize(high), describe(f.node)));
  }
  return static_cast<uint64_t>(bytes);
}

constexpr int kMaxCore = 1023;

std::vector<int> readCores(Decoder& d, const Field& f) {
  if (!f.node.IsSequence()) {
    d.fail(f, "expected a list of core numbers such as [0, 1], got " + describe(f.node));
  }
  std::vector<int> cores;
  std::vector<std::string> paths;
  for (size_t i = 0; i < f.node.size(); ++i) {
    const YAML::Node element = f.node[i];
    const Field item{element, f.path + "[" + std::to_string(i) + "]", element.Mark()};
    const int core = static_cast<int>(readInteger(d, item, 0, kMaxCore));
    for (size_t j = 0; j < cores.size(); ++j) {
      if (cores[j] == core) d.fail(item, "core " + std::to_string(core) + " is already listed at " + paths[j]);
    }
    cores.push_back(core);
    paths.push_back(item.path);
  }
  return cores;
}

// HOST:PORT with the host an IPv4 address, a name, or an IPv6 address in
// brackets. Port 0 lets the kernel pick a free port (the server logs which):
// what tests running side by side need. Returns "" when fine, else what is wrong.
std::string checkListenAddress(std::string_view s) {
  const std::string shape = "must be HOST:PORT (IPv6 as [::1]:9108), got \"" + echo(s) + "\"";
  std::string host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return shape;
    host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
    in6_addr address6{};
    if (inet_pton(AF_INET6, host.c_str(), &address6) != 1) {
      return "\"" + echo(host) + "\" is not an IPv6 address";
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return shape;
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos) return "IPv6 addresses go in brackets, as in [::1]:9108";
    if (host.empty()) return shape;
    if (host.find_first_not_of("0123456789.") == std::string::npos) {
      in_addr address4{};
      if (inet_pton(AF_INET, host.c_str(), &address4) != 1) {
        return "\"" + echo(host) + "\" is not an IPv4 address";
      }
    } else if (host.size() > 253 ||
               host.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != std::string::npos) {
      return "\"" + echo(host) + "\" is not a host name or address";
    }
  }
  int64_t number = 0;
  bool overflow = false;
  if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) return shape;
  if (!parseInteger(port, number, overflow) || overflow || number > 65535) {
    return "port must be between 0 (any free port) and 65535, got " + echo(port);
  }
  return "";
}

// --- sections -------------------------------------------------------------

void decodeCapture(Decoder& d, const Field& f, CaptureConfig& c) {
  MapReader m(d, f, {"source", "pcap", "snaplen", "cores"}, "a map of capture settings");
  if (auto v = m.take("source")) {
    const std::string source = readString(d, *v);
    if (source == "afxdp" || source == "afpacket" || source == "dpdk" || source == "mirror") {
      d.fail(*v, source + " is not available in this build yet (live capture comes later); use pcap");
    }
    if (source != "pcap") {
      d.fail(*v, "unknown source " + describe(v->node) +
                     "; this build reads pcap files (afxdp, afpacket, dpdk and mirror come later)");
    }
    c.source = source;
  }
  if (auto v = m.take("pcap")) {
    MapReader pcap(d, *v, {"path"}, "a map with the pcap file's path");
    if (auto p = pcap.take("path")) c.pcap_path = d.resolvePath(readPath(d, *p));
  }
  if (auto v = m.take("snaplen")) c.snaplen = readUint32(d, *v, 64, 262144);
  if (auto v = m.take("cores")) c.cores = readCores(d, *v);
}

void decodeWorkers(Decoder& d, const Field& f, WorkerConfig& w) {
  MapReader m(d, f, {"count", "cores", "queue_batches", "batch_packets", "batch_bytes"},
              "a map of worker settings");
  if (auto v = m.take("count")) w.count = readUint32(d, *v, 1, 256);
  if (auto v = m.take("cores")) w.cores = readCores(d, *v);
  if (auto v = m.take("queue_batches")) w.queue_batches = readUint32(d, *v, 2, 65536);
  if (auto v = m.take("batch_packets")) w.batch_packets = readUint32(d, *v, 1, 1024);
  // The floor is the smallest snaplen; the cross-field check holds it to the real one.
  if (auto v = m.take("batch_bytes")) w.batch_bytes = static_cast<uint32_t>(readSize(d, *v, 64, 64 * kMiB));
}

void decodeFlows(Decoder& d, const Field& f, FlowConfig& c) {
  MapReader m(d, f, {"max_flows", "idle_timeout", "active_timeout", "closed_timeout", "vlan_in_key"},
              "a map of flow table settings");
  if (auto v = m.take("max_flows")) c.max_flows = readUint32(d, *v, 1, 1u << 26);
  if (auto v = m.take("idle_timeout")) c.idle_timeout = readDuration(d, *v, kSecond, 24 * kHour);
  if (auto v = m.take("active_timeout")) {
    c.active_timeout = readDuration(d, *v, 0, 24 * kHour);
    if (c.active_timeout != 0 && c.active_timeout < kSecond) {
      d.fail(*v, "must be 0 (no interim records) or between 1s and 24h, got " + describe(v->node));
    }
  }
  if (auto v = m.take("closed_timeout")) c.closed_timeout = readDuration(d, *v, 0, 5 * kMinute);
  if (auto v = m.take("vlan_in_key")) c.vlan_in_key = readBool(d, *v);
}

void decodeDefrag(Decoder& d, const Field& f, DefragConfig& c) {
  MapReader m(d, f, {"max_datagrams", "max_bytes", "max_fragments_per_datagram", "timeout"},
              "a map of defragmentation settings");
  if (auto v = m.take("max_datagrams")) c.max_datagrams = readUint32(d, *v, 1, 1u << 20);
  if (auto v = m.take("max_bytes")) c.max_bytes = readSize(d, *v, 64 * kKiB, 16 * kGiB);
  if (auto v = m.take("max_fragments_per_datagram")) {
    c.max_fragments_per_datagram = readUint32(d, *v, 2, 8192);
  }
  if (auto v = m.take("timeout")) c.timeout = readDuration(d, *v, kSecond, 300 * kSecond);
}

void decodeOutput(Decoder& d, const Field& f, OutputConfig& o) {
  if (!f.node.IsMap()) d.fail(f, "expected a map with a type (jsonl), got " + describe(f.node));
  // The type decides which other keys are valid, so it is judged first.
  std::optional<Field> type;
  for (auto it = f.node.begin(); it != f.node.end() && !type; ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == "type") {
      type = Field{it->second, f.path + ".type", it->first.Mark()};
    }
  }
  if (!type) {
    d.failAt(f.node.Mark(), f.path + ".type",
             "required: jsonl (kafka and hep are not available in this build yet)");
  }
  const std::string name = readString(d, *type);
  if (name == "kafka" || name == "hep") {
    d.fail(*type, name + " is not available in this build yet; use jsonl");
  }
  if (name != "jsonl") {
    d.fail(*type, "unknown output type " + describe(type->node) +
                      "; this build has jsonl (kafka and hep come later)");
  }
  MapReader m(d, f, {"type", "path", "queue_events"}, "a map");
  m.take("type");
  o.type = name;
  if (auto v = m.take("path")) {
    const std::string path = readPath(d, *v);
    o.path = path == "-" ? path : d.resolvePath(path);
  }
  if (auto v = m.take("queue_events")) o.queue_events = readUint32(d, *v, 16, 1u << 24);
}

void decodeOutputs(Decoder& d, const Field& f, std::vector<OutputConfig>& outputs) {
  if (!f.node.IsSequence()) {
    d.fail(f, "expected a list of outputs (- type: jsonl ...), got " + describe(f.node));
  }
  if (f.node.size() == 0) d.fail(f, "must list at least one output");
  outputs.clear();
  for (size_t i = 0; i < f.node.size(); ++i) {
    const YAML::Node element = f.node[i];
    const Field item{element, f.path + "[" + std::to_string(i) + "]", element.Mark()};
    d.remember(item);
    OutputConfig o;
    decodeOutput(d, item, o);
    outputs.push_back(std::move(o));
  }
}

void decodeMetrics(Decoder& d, const Field& f, MetricsConfig& c) {
  MapReader m(d, f, {"enabled", "listen"}, "a map of metrics settings");
  if (auto v = m.take("enabled")) c.enabled = readBool(d, *v);
  if (auto v = m.take("listen")) {
    c.listen = readString(d, *v);
    const std::string problem = checkListenAddress(c.listen);
    if (!problem.empty()) d.fail(*v, problem);
  }
}

void decodeLogging(Decoder& d, const Field& f, LoggingConfig& c) {
  MapReader m(d, f, {"level"}, "a map of logging settings");
  if (auto v = m.take("level")) c.level = readOneOf(d, *v, {"debug", "info", "warn", "error"});
}

// --- after decoding -------------------------------------------------------

// The innermost of `paths` that the file wrote, else the document itself:
// where to point when a check involves a key left at its default.
YAML::Mark nearestMark(const Decoder& d, const Field& root, std::initializer_list<std::string> paths) {
  for (const std::string& path : paths) {
    if (const Field* f = d.seen(path)) return Decoder::markOf(*f);
  }
  return Decoder::markOf(root);
}

void checkAcrossSections(const Decoder& d, const Field& root, const Config& c, ConfigUse use) {
  if (c.workers.batch_bytes < c.capture.snaplen) {
    if (const Field* at = d.seen("workers.batch_bytes")) {
      d.fail(*at, "must be at least capture.snaplen (" + std::to_string(c.capture.snaplen) +
                      "B) so that one packet fits, got " + describe(at->node));
    }
    d.failAt(nearestMark(d, root, {"capture.snaplen"}), "capture.snaplen",
             "is more than workers.batch_bytes (" + formatSize(c.workers.batch_bytes) +
                 ", the default); raise workers.batch_bytes");
  }

  // One reader thread per file: a second core would sit idle.
  if (c.capture.source == "pcap" && c.capture.cores.size() > 1) {
    d.failAt(nearestMark(d, root, {"capture.cores"}), "capture.cores",
             "lists " + std::to_string(c.capture.cores.size()) +
                 " cores, but a pcap source reads with one thread; list one core or none");
  }

  if (!c.workers.cores.empty() && c.workers.cores.size() != c.workers.count) {
    d.failAt(nearestMark(d, root, {"workers.cores"}), "workers.cores",
             "lists " + std::to_string(c.workers.cores.size()) + " cores for " +
                 std::to_string(c.workers.count) +
                 " workers (workers.count); give one core per worker, or none");
  }

  // Two outputs on one file (or both on stdout) would interleave their lines.
  for (size_t i = 0; i < c.outputs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (c.outputs[i].path == c.outputs[j].path) {
        const std::string output = "outputs[" + std::to_string(i) + "]";
        d.failAt(nearestMark(d, root, {output + ".path", output}), output + ".path",
                 "\"" + echo(c.outputs[i].path) + "\" is already the path of outputs[" +
                     std::to_string(j) + "]");
      }
    }
  }

  if (use == ConfigUse::kRun && c.capture.source == "pcap" && c.capture.pcap_path.empty()) {
    d.failAt(nearestMark(d, root, {"capture.pcap", "capture"}), "capture.pcap.path",
             "required when capture.source is pcap");
  }
}

Config decodeDocument(Decoder& d, const YAML::Node& document, const std::string& source_file,
                      ConfigUse use) {
  Config c;
  c.source_file = source_file;
  const Field root{document, "", document.Mark()};
  MapReader m(d, root, {"capture", "workers", "flows", "defrag", "outputs", "metrics", "logging"},
              "a map of sections (capture, workers, flows, defrag, outputs, metrics, logging)");
  if (auto v = m.take("capture")) decodeCapture(d, *v, c.capture);
  if (auto v = m.take("workers")) decodeWorkers(d, *v, c.workers);
  if (auto v = m.take("flows")) decodeFlows(d, *v, c.flows);
  if (auto v = m.take("defrag")) decodeDefrag(d, *v, c.defrag);
  if (auto v = m.take("outputs")) decodeOutputs(d, *v, c.outputs);
  if (auto v = m.take("metrics")) decodeMetrics(d, *v, c.metrics);
  if (auto v = m.take("logging")) decodeLogging(d, *v, c.logging);
  checkAcrossSections(d, root, c, use);
  return c;
}

}  // namespace

Config loadConfigString(const std::string& yaml, const std::string& name_for_errors, ConfigUse use) {
  Decoder d(name_for_errors, std::filesystem::path(name_for_errors).parent_path());
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& e) {
    d.failAt(e.mark, "", "invalid YAML: " + e.msg);
  }
  // A stray trailing `---` makes an empty second document: harmless.
  for (size_t i = 1; i < documents.size(); ++i) {
    if (!documents[i].IsNull()) {
      d.failAt(documents[i].Mark(), "", "a second YAML document; a config file holds one");
    }
  }
  const YAML::Node document = documents.empty() ? YAML::Node() : documents.front();
  return decodeDocument(d, document, name_for_errors, use);
}

Config loadConfigFile(const std::string& path, ConfigUse use) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buffer[16384];
  for (;;) {
    const size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, n);
    if (text.size() > kMaxFileBytes) {
      throw ConfigError(path + ": cannot read: larger than " + formatSize(kMaxFileBytes) +
                        ", not a config file");
    }
    if (n < sizeof buffer) break;
  }
  if (std::ferror(file.get())) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  return loadConfigString(text, path, use);
}

}  // namespace tapflow
