// tapflow's configuration loader: YAML text to Config, every error located.
// One decode function per section, in the spirit of yaml-cpp's convert<>, but
// each one carries the key path so that errors can name it (convert<>::decode
// can only return false). Cross-field checks run once every section is read.
#include "app/config.h"

#include "k8s/label_selector.h"

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
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

  const std::string& file() const { return file_; }

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

// `range` replaces "between LOW and HIGH" in the message when the allowed
// values are not the whole interval (powers of two, a pair of sizes).
int64_t readInteger(const Decoder& d, const Field& f, int64_t low, int64_t high, const std::string& range = "") {
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
    if (!range.empty()) d.fail(f, "must be " + range + ", got " + echo(text));
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

// --- capture --------------------------------------------------------------

bool isPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// A power of two in [low, high]: ring and UMEM sizes, which the kernel's
// ring arithmetic (index & (size - 1)) needs.
uint32_t readPowerOfTwo(const Decoder& d, const Field& f, uint32_t low, uint32_t high) {
  const std::string range =
      "a power of two between " + std::to_string(low) + " and " + std::to_string(high);
  const auto value = static_cast<uint32_t>(readInteger(d, f, low, high, range));
  if (!isPowerOfTwo(value)) d.fail(f, "must be " + range + ", got " + describe(f.node));
  return value;
}

// The entries of a list, each a Field with its position in the path.
std::vector<Field> readListItems(Decoder& d, const Field& f, const std::string& expected, size_t max_items) {
  if (!f.node.IsSequence()) d.fail(f, "expected " + expected + ", got " + describe(f.node));
  if (f.node.size() > max_items) {
    d.fail(f, "lists " + std::to_string(f.node.size()) + " entries, more than the " +
                  std::to_string(max_items) + " allowed");
  }
  std::vector<Field> items;
  for (size_t i = 0; i < f.node.size(); ++i) {
    const YAML::Node element = f.node[i];
    items.push_back(Field{element, f.path + "[" + std::to_string(i) + "]", element.Mark()});
    d.remember(items.back());
  }
  return items;
}

// Refuses the second of two list entries that mean the same thing. A map,
// not a scan: a filter may list thousands of CIDRs.
template <typename Key>
class Distinct {
 public:
  void add(const Decoder& d, const Field& item, const Key& key, const std::string& shown) {
    const auto [it, inserted] = seen_.emplace(key, item.path);
    if (!inserted) d.fail(item, shown + " is already listed at " + it->second);
  }

 private:
  std::map<Key, std::string> seen_;
};

constexpr size_t kMaxInterfaces = 256;
constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ less the terminating NUL
constexpr size_t kMaxInterfacePattern = 64;
constexpr int kMaxQueue = 1023;
// Within the XDP program's map sizes (xdp/tapflow_xdp_shared.h: 16384 CIDRs
// per address family, 4096 ports), so that a loaded file always fits.
constexpr size_t kMaxCidrs = 16384;
constexpr size_t kMaxPorts = 4096;
constexpr size_t kMaxEalArgs = 256;
constexpr int kMaxDpdkPort = 1023;

// What the kernel's dev_valid_name() refuses, said before anything is opened.
// Patterns (mirror mode) may be longer than a name: [abc] matches one character.
std::string interfaceNameProblem(std::string_view name, bool pattern) {
  if (name.empty()) return "must not be empty";
  const bool is_pattern = pattern && name.find_first_of("*?[") != std::string_view::npos;
  const size_t limit = is_pattern ? kMaxInterfacePattern : kMaxInterfaceName;
  if (name.size() > limit) {
    return "\"" + echo(name) + "\" is longer than " + std::to_string(limit) +
           (is_pattern ? " characters" : " characters, the kernel's limit for interface names");
  }
  if (name == "." || name == "..") return "\"" + std::string(name) + "\" is not an interface name";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == ':' || u <= 0x20 || u == 0x7f) {
      return "\"" + echo(name) + "\" is not an interface name (no '/', ':', spaces or control characters)";
    }
  }
  return "";
}

std::vector<std::string> readInterfaces(Decoder& d, const Field& f, bool patterns) {
  const std::string expected = patterns ? "a list of interface names or patterns such as [eth0, \"cali*\"]"
                                        : "a list of interface names such as [eth0, eth1]";
  std::vector<std::string> names;
  Distinct<std::string> distinct;
  for (const Field& item : readListItems(d, f, expected, kMaxInterfaces)) {
    if (!item.node.IsScalar()) d.fail(item, "expected an interface name, got " + describe(item.node));
    const std::string name = item.node.Scalar();
    const std::string problem = interfaceNameProblem(name, patterns);
    if (!problem.empty()) d.fail(item, problem);
    distinct.add(d, item, name, name);
    names.push_back(name);
  }
  return names;
}

// capture.queues: a list of queue ids, or `all` (stored as the empty list).
std::vector<uint32_t> readQueues(Decoder& d, const Field& f) {
  if (f.node.IsScalar() && f.node.Scalar() == "all") return {};
  const std::string expected = "a list of RX queue numbers such as [0, 1], or all";
  if (f.node.IsSequence() && f.node.size() == 0) {
    d.fail(f, "an empty list would capture no queue; write all for every queue of each interface");
  }
  std::vector<uint32_t> queues;
  Distinct<uint32_t> distinct;
  for (const Field& item : readListItems(d, f, expected, kMaxQueue + 1)) {
    const auto queue = static_cast<uint32_t>(readInteger(d, item, 0, kMaxQueue));
    distinct.add(d, item, queue, "queue " + std::to_string(queue));
    queues.push_back(queue);
  }
  return queues;
}

void decodeAfXdp(Decoder& d, const Field& f, AfXdpConfig& c) {
  MapReader m(d, f,
              {"xdp_mode", "zero_copy", "frame_size", "frames", "rx_ring", "fill_ring", "batch", "need_wakeup",
               "busy_poll", "busy_poll_budget", "program"},
              "a map of AF_XDP settings");
  if (auto v = m.take("xdp_mode")) c.xdp_mode = readOneOf(d, *v, {"auto", "native", "generic"});
  // on and off are strings under YAML 1.2, which is what this reads.
  if (auto v = m.take("zero_copy")) c.zero_copy = readOneOf(d, *v, {"auto", "on", "off"});
  if (auto v = m.take("frame_size")) {
    const auto size = static_cast<uint32_t>(readInteger(d, *v, 2048, 4096, "2048 or 4096"));
    if (size != 2048 && size != 4096) d.fail(*v, "must be 2048 or 4096, got " + describe(v->node));
    c.frame_size = size;
  }
  if (auto v = m.take("frames")) c.frames = readPowerOfTwo(d, *v, 512, 1u << 20);
  if (auto v = m.take("rx_ring")) c.rx_ring = readPowerOfTwo(d, *v, 64, 65536);
  if (auto v = m.take("fill_ring")) c.fill_ring = readPowerOfTwo(d, *v, 64, 65536);
  if (auto v = m.take("batch")) c.batch = readUint32(d, *v, 1, 1024);
  if (auto v = m.take("need_wakeup")) c.need_wakeup = readBool(d, *v);
  if (auto v = m.take("busy_poll")) c.busy_poll = readBool(d, *v);
  if (auto v = m.take("busy_poll_budget")) c.busy_poll_budget = readUint32(d, *v, 1, 1024);
  if (auto v = m.take("program")) {
    // "" spells out the default: the program built with tapflow.
    const std::string program = readString(d, *v);
    c.program = program.empty() ? program : d.resolvePath(program);
  }
}

void decodeAfPacket(Decoder& d, const Field& f, AfPacketConfig& c) {
  MapReader m(d, f, {"threads", "block_size", "block_count", "block_timeout", "fanout"},
              "a map of AF_PACKET settings");
  if (auto v = m.take("threads")) c.threads = readUint32(d, *v, 1, 64);
  if (auto v = m.take("block_size")) {
    const uint64_t size = readSize(d, *v, 4 * kKiB, 64 * kMiB);
    // The kernel refuses blocks that are not whole pages.
    if (size % (4 * kKiB) != 0) d.fail(*v, "must be a multiple of 4KiB (the page size), got " + describe(v->node));
    c.block_size = static_cast<uint32_t>(size);
  }
  if (auto v = m.take("block_count")) c.block_count = readUint32(d, *v, 1, 65536);
  if (auto v = m.take("block_timeout")) {
    const Duration timeout = readDuration(d, *v, kMillisecond, 10 * kSecond);
    // TPACKET_V3 takes it in whole milliseconds.
    if (timeout % kMillisecond != 0) {
      d.fail(*v, "must be a whole number of milliseconds, got " + describe(v->node));
    }
    c.block_timeout = timeout;
  }
  if (auto v = m.take("fanout")) c.fanout = readOneOf(d, *v, {"hash", "cpu", "lb"});
}

void decodeDpdk(Decoder& d, const Field& f, DpdkConfig& c) {
  MapReader m(d, f, {"eal_args", "ports", "rx_queues", "rx_descriptors", "mbufs", "mbuf_cache", "burst"},
              "a map of DPDK settings");
  if (auto v = m.take("eal_args")) {
    c.eal_args.clear();
    for (const Field& item :
         readListItems(d, *v, "a list of EAL arguments such as [--no-huge, -m, \"256\"]", kMaxEalArgs)) {
      const std::string arg = readString(d, item);
      if (arg.empty()) d.fail(item, "must not be empty");
      c.eal_args.push_back(arg);
    }
  }
  if (auto v = m.take("ports")) {
    c.ports.clear();
    Distinct<uint32_t> distinct;
    for (const Field& item :
         readListItems(d, *v, "a list of DPDK port ids such as [0, 1]", kMaxDpdkPort + 1)) {
      const auto port = static_cast<uint32_t>(readInteger(d, item, 0, kMaxDpdkPort));
      distinct.add(d, item, port, "port " + std::to_string(port));
      c.ports.push_back(port);
    }
  }
  if (auto v = m.take("rx_queues")) c.rx_queues = readUint32(d, *v, 1, 64);
  if (auto v = m.take("rx_descriptors")) c.rx_descriptors = readPowerOfTwo(d, *v, 64, 65536);
  if (auto v = m.take("mbufs")) c.mbufs = readUint32(d, *v, 1023, 1u << 22);
  // RTE_MEMPOOL_CACHE_MAX_SIZE; the smallest pool (1023) stays above 1.5 × 512 as DPDK requires.
  if (auto v = m.take("mbuf_cache")) c.mbuf_cache = readUint32(d, *v, 0, 512);
  if (auto v = m.take("burst")) c.burst = readUint32(d, *v, 1, 512);
}

void decodeMirror(Decoder& d, const Field& f, MirrorConfig& c) {
  MapReader m(d, f, {"interfaces", "veth_name", "rescan_interval", "capture"}, "a map of mirror settings");
  if (auto v = m.take("interfaces")) c.interfaces = readInterfaces(d, *v, true);
  if (auto v = m.take("veth_name")) {
    const std::string name = readString(d, *v);
    // The captured end is the name plus "c": it must fit too.
    if (name.size() >= kMaxInterfaceName) {
      d.fail(*v, "\"" + echo(name) + "\" is longer than " + std::to_string(kMaxInterfaceName - 1) +
                     " characters; the pair's other end adds a \"c\" within the kernel's 15");
    }
    const std::string problem = interfaceNameProblem(name, false);
    if (!problem.empty()) d.fail(*v, problem);
    if (name.find_first_of("*?[") != std::string::npos) d.fail(*v, "must be a name, not a pattern");
    c.veth_name = name;
  }
  if (auto v = m.take("rescan_interval")) c.rescan_interval = readDuration(d, *v, 100 * kMillisecond, kHour);
  if (auto v = m.take("capture")) c.capture = readOneOf(d, *v, {"afxdp", "afpacket"});
}

// An address or CIDR as the XDP program's LPM trie keys it: family, prefix
// length and address bytes. Returns "" when fine, else what is wrong.
struct Prefix {
  int family = 0;
  int length = 0;
  std::array<unsigned char, 16> bytes{};
  auto operator<=>(const Prefix&) const = default;
};

std::string parsePrefix(std::string_view text, Prefix& out) {
  const std::string shape =
      "\"" + echo(text) + "\" is not an IPv4 or IPv6 address or CIDR (such as 10.0.0.0/8 or fd00::/64)";
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  out.family = address.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  const int bits = out.family == AF_INET6 ? 128 : 32;
  if (inet_pton(out.family, address.c_str(), out.bytes.data()) != 1) return shape;
  out.length = bits;
  if (slash != std::string_view::npos) {
    const std::string_view prefix = text.substr(slash + 1);
    int64_t length = 0;
    bool overflow = false;
    if (prefix.empty() || prefix.find_first_not_of("0123456789") != std::string_view::npos ||
        !parseInteger(prefix, length, overflow)) {
      return shape;
    }
    if (overflow || length > bits) {
      return "prefix length must be between 0 and " + std::to_string(bits) + " for " +
             (out.family == AF_INET6 ? "IPv6" : "IPv4") + ", got " + echo(prefix);
    }
    out.length = static_cast<int>(length);
  }
  // Host bits set usually means a typo in the address or the length.
  Prefix network = out;
  for (int bit = out.length; bit < bits; ++bit) {
    network.bytes[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
  }
  if (network != out) {
    char buffer[INET6_ADDRSTRLEN] = {};
    inet_ntop(out.family, network.bytes.data(), buffer, sizeof buffer);
    return "\"" + echo(text) + "\" has host bits set; did you mean " + buffer + "/" + std::to_string(out.length) + "?";
  }
  return "";
}

struct ProtocolName {
  std::string_view name;
  uint32_t number;
};
constexpr ProtocolName kProtocols[] = {{"tcp", 6}, {"udp", 17}, {"sctp", 132}, {"icmp", 1}, {"ipv6-icmp", 58}};

void decodeFilter(Decoder& d, const Field& f, CaptureFilterConfig& c) {
  MapReader m(d, f, {"cidrs", "ports", "protocols"}, "a map of kernel filter settings (cidrs, ports, protocols)");
  if (auto v = m.take("cidrs")) {
    c.cidrs.clear();
    Distinct<Prefix> distinct;
    for (const Field& item :
         readListItems(d, *v, "a list of addresses or CIDRs such as [10.0.0.0/8, fd00::/64]", kMaxCidrs)) {
      if (!item.node.IsScalar()) d.fail(item, "expected an address or CIDR, got " + describe(item.node));
      const std::string text = item.node.Scalar();
      Prefix prefix;
      const std::string problem = parsePrefix(text, prefix);
      if (!problem.empty()) d.fail(item, problem);
      distinct.add(d, item, prefix, text);
      c.cidrs.push_back(text);
    }
  }
  if (auto v = m.take("ports")) {
    c.ports.clear();
    Distinct<uint32_t> distinct;
    for (const Field& item : readListItems(d, *v, "a list of ports such as [80, 5060]", kMaxPorts)) {
      const auto port = static_cast<uint32_t>(readInteger(d, item, 1, 65535));
      distinct.add(d, item, port, "port " + std::to_string(port));
      c.ports.push_back(port);
    }
  }
  if (auto v = m.take("protocols")) {
    c.protocols.clear();
    Distinct<uint32_t> distinct;
    const std::string expected = "tcp, udp, sctp, icmp, ipv6-icmp or a protocol number 0..255";
    for (const Field& item : readListItems(d, *v, "a list of protocols such as [tcp, udp]", 256)) {
      if (!item.node.IsScalar()) d.fail(item, "expected " + expected + ", got " + describe(item.node));
      const std::string& text = item.node.Scalar();
      std::string name;
      uint32_t number = 0;
      for (const ProtocolName& p : kProtocols) {
        if (text == p.name) {
          name = std::string(p.name);
          number = p.number;
        }
      }
      int64_t value = 0;
      bool overflow = false;
      if (name.empty() && isPlain(item.node) && parseInteger(text, value, overflow)) {
        if (overflow || value < 0 || value > 255) {
          d.fail(item, "protocol number " + rangeMessage("0", "255", echo(text)));
        }
        number = static_cast<uint32_t>(value);
        name = std::to_string(number);  // "+6" and "06" become "6"
      }
      if (name.empty()) d.fail(item, "must be " + expected + ", got " + describe(item.node));
      distinct.add(d, item, number, name + " (protocol " + std::to_string(number) + ")");
      c.protocols.push_back(name);
    }
  }
}

void decodeCapture(Decoder& d, const Field& f, CaptureConfig& c) {
  MapReader m(d, f,
              {"source", "pcap", "interfaces", "queues", "snaplen", "cores", "afxdp", "afpacket", "dpdk", "mirror",
               "filter"},
              "a map of capture settings");
  if (auto v = m.take("source")) c.source = readOneOf(d, *v, {"pcap", "afxdp", "afpacket", "mirror", "dpdk"});
  if (auto v = m.take("pcap")) {
    MapReader pcap(d, *v, {"path"}, "a map with the pcap file's path");
    if (auto p = pcap.take("path")) c.pcap_path = d.resolvePath(readPath(d, *p));
  }
  if (auto v = m.take("interfaces")) c.interfaces = readInterfaces(d, *v, false);
  if (auto v = m.take("queues")) c.queues = readQueues(d, *v);
  if (auto v = m.take("snaplen")) c.snaplen = readUint32(d, *v, 64, 262144);
  if (auto v = m.take("cores")) c.cores = readCores(d, *v);
  if (auto v = m.take("afxdp")) decodeAfXdp(d, *v, c.afxdp);
  if (auto v = m.take("afpacket")) decodeAfPacket(d, *v, c.afpacket);
  if (auto v = m.take("dpdk")) decodeDpdk(d, *v, c.dpdk);
  if (auto v = m.take("mirror")) decodeMirror(d, *v, c.mirror);
  if (auto v = m.take("filter")) decodeFilter(d, *v, c.filter);
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

void decodeTcpReassembly(Decoder& d, const Field& f, TcpReassemblyConfig& c) {
  MapReader m(d, f,
              {"max_flow_buffered_bytes", "max_flow_buffered_segments", "max_buffered_bytes",
               "max_buffered_segments", "max_stream_depth"},
              "a map of TCP reassembly settings");
  if (auto v = m.take("max_flow_buffered_bytes")) {
    c.max_flow_buffered_bytes = static_cast<uint32_t>(readSize(d, *v, 0, 1 * kGiB));
  }
  if (auto v = m.take("max_flow_buffered_segments")) c.max_flow_buffered_segments = readUint32(d, *v, 0, 1u << 20);
  if (auto v = m.take("max_buffered_bytes")) c.max_buffered_bytes = readSize(d, *v, 0, 64 * kGiB);
  if (auto v = m.take("max_buffered_segments")) c.max_buffered_segments = readUint32(d, *v, 0, 1u << 26);
  if (auto v = m.take("max_stream_depth")) c.max_stream_depth = readSize(d, *v, 0, uint64_t(1) << 50);
}

std::vector<uint16_t> readPortList(Decoder& d, const Field& f) {
  std::vector<uint16_t> ports;
  Distinct<uint32_t> distinct;
  for (const Field& item : readListItems(d, f, "a list of ports such as [80, 8080]", kMaxPorts)) {
    const auto port = static_cast<uint32_t>(readInteger(d, item, 1, 65535));
    distinct.add(d, item, port, "port " + std::to_string(port));
    ports.push_back(static_cast<uint16_t>(port));
  }
  return ports;
}

// enabled and ports, which every analyzer has; the rest is the analyzer's own.
void takeSwitch(Decoder& d, MapReader& m, AnalyzerPorts& p) {
  if (auto v = m.take("enabled")) p.enabled = readBool(d, *v);
  if (auto v = m.take("ports")) p.ports = readPortList(d, *v);
}

void decodeHttp(Decoder& d, const Field& f, AnalyzerPorts& p, HttpConfig& c) {
  MapReader m(d, f,
              {"enabled", "ports", "url", "headers", "max_header_bytes", "max_pending_requests", "max_pending_bytes",
               "max_copied_headers"},
              "a map of HTTP analyzer settings");
  takeSwitch(d, m, p);
  if (auto v = m.take("url")) {
    const std::string mode = readOneOf(d, *v, {"full", "no_query", "drop"});
    c.url_mode = mode == "full" ? HttpConfig::UrlMode::kFull
                                : (mode == "no_query" ? HttpConfig::UrlMode::kNoQuery : HttpConfig::UrlMode::kDrop);
  }
  if (auto v = m.take("headers")) {
    c.headers.clear();
    Distinct<std::string> distinct;
    for (const Field& item : readListItems(d, *v, "a list of header names such as [x-request-id]", 64)) {
      std::string name = readString(d, item);
      const bool token = !name.empty() && name.size() <= 64 &&
                         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
                             std::string::npos;
      if (!token) d.fail(item, "expected a header name (letters, digits, - and _), got " + describe(item.node));
      for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      distinct.add(d, item, name, "header " + name);
      c.headers.push_back(name);
    }
  }
  if (auto v = m.take("max_header_bytes")) c.max_header_bytes = static_cast<uint32_t>(readSize(d, *v, 256, kMiB));
  if (auto v = m.take("max_pending_requests")) c.max_pending_requests = readUint32(d, *v, 1, 1024);
  if (auto v = m.take("max_pending_bytes")) c.max_pending_bytes = static_cast<uint32_t>(readSize(d, *v, 1 * kKiB, 16 * kMiB));
  if (auto v = m.take("max_copied_headers")) c.max_copied_headers = readUint32(d, *v, 0, 64);
}

void decodeSip(Decoder& d, const Field& f, AnalyzerPorts& p, SipConfig& c) {
  MapReader m(d, f,
              {"enabled", "ports", "user_privacy", "hash_salt", "max_message_bytes", "max_calls", "call_timeout",
               "setup_timeout", "linger"},
              "a map of SIP analyzer settings");
  takeSwitch(d, m, p);
  if (auto v = m.take("user_privacy")) {
    const std::string mode = readOneOf(d, *v, {"keep", "hash", "drop"});
    c.user_privacy = mode == "keep" ? SipConfig::UserPrivacy::kKeep
                                    : (mode == "hash" ? SipConfig::UserPrivacy::kHash : SipConfig::UserPrivacy::kDrop);
  }
  if (auto v = m.take("max_message_bytes")) {
    c.max_message_bytes = static_cast<uint32_t>(readSize(d, *v, 1 * kKiB, kMiB));
  }
  if (auto v = m.take("max_calls")) c.max_calls = readUint32(d, *v, 1, 1u << 24);
  if (auto v = m.take("call_timeout")) c.call_timeout = readDuration(d, *v, kSecond, 7 * 24 * kHour);
  if (auto v = m.take("setup_timeout")) c.setup_timeout = readDuration(d, *v, kSecond, 24 * kHour);
  if (auto v = m.take("linger")) c.linger = readDuration(d, *v, 0, kHour);
  if (auto v = m.take("hash_salt")) c.hash_salt = readString(d, *v);
}

void decodeDns(Decoder& d, const Field& f, AnalyzerPorts& p, DnsConfig& c) {
  MapReader m(d, f,
              {"enabled", "ports", "max_pending_queries", "max_answers", "query_timeout", "max_tcp_message",
               "max_answer_text"},
              "a map of DNS analyzer settings");
  takeSwitch(d, m, p);
  if (auto v = m.take("max_pending_queries")) c.max_pending_queries = readUint32(d, *v, 1, 1024);
  if (auto v = m.take("max_answers")) c.max_answers = readUint32(d, *v, 0, 256);
  if (auto v = m.take("query_timeout")) c.query_timeout = readDuration(d, *v, 100 * kMillisecond, kHour);
  if (auto v = m.take("max_tcp_message")) c.max_tcp_message = static_cast<uint32_t>(readSize(d, *v, 512, 65535));
  if (auto v = m.take("max_answer_text")) {
    c.max_answer_text = static_cast<uint32_t>(readSize(d, *v, 1 * kKiB, kMiB));
  }
}

void decodeTls(Decoder& d, const Field& f, AnalyzerPorts& p, TlsConfig& c) {
  MapReader m(d, f, {"enabled", "ports", "max_hello_bytes"}, "a map of TLS analyzer settings");
  takeSwitch(d, m, p);
  if (auto v = m.take("max_hello_bytes")) c.max_hello_bytes = static_cast<uint32_t>(readSize(d, *v, 512, kMiB));
}

void decodeAnalyzers(Decoder& d, const Field& f, AppLayerConfig& c) {
  MapReader m(d, f, {"max_sessions", "http", "sip", "dns", "tls"},
              "a map of analyzer settings (max_sessions, http, sip, dns, tls)");
  if (auto v = m.take("max_sessions")) c.max_sessions = readUint32(d, *v, 1, 1u << 24);
  if (auto v = m.take("http")) decodeHttp(d, *v, c.http_ports, c.http);
  if (auto v = m.take("sip")) decodeSip(d, *v, c.sip_ports, c.sip);
  if (auto v = m.take("dns")) decodeDns(d, *v, c.dns_ports, c.dns);
  if (auto v = m.take("tls")) decodeTls(d, *v, c.tls_ports, c.tls);
}

// --- outputs --------------------------------------------------------------

// {file: PATH} or {env: NAME}: never the secret itself, which would then sit
// in a ConfigMap and in version control. Read later, by resolveSecrets().
void decodeSecret(Decoder& d, const Field& f, SecretRef& secret) {
  if (!f.node.IsMap()) {
    d.fail(f, "a secret is read from a file or an environment variable, never written here: use "
              "{file: /run/secrets/NAME} or {env: VARIABLE}");
  }
  MapReader m(d, f, {"file", "env"}, "{file: PATH} or {env: VARIABLE}");
  auto file = m.take("file");
  auto env = m.take("env");
  if (file && env) d.fail(*env, "give file or env, not both");
  if (!file && !env) d.fail(f, "expected {file: PATH} or {env: VARIABLE}");
  if (file) secret.file = d.resolvePath(readPath(d, *file));
  if (env) {
    secret.env = readString(d, *env);
    if (secret.env.empty() || secret.env.find('=') != std::string::npos) {
      d.fail(*env, "expected an environment variable name, got " + describe(env->node));
    }
  }
  const YAML::Mark mark = Decoder::markOf(f);
  secret.where = d.file() + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": " +
                 f.path;
}

// Properties that hold secrets: refused inline, taken in secret_properties.
bool isSecretProperty(std::string_view name) {
  return name.find("password") != std::string_view::npos || name.find("secret") != std::string_view::npos ||
         name == "ssl.key.pem" || name == "ssl_key" || name == "sasl.oauthbearer.config";
}

// librdkafka judges a property name and value the way the producer will, so a
// misspelt or out-of-range property fails check-config, at its line.
void checkKafkaProperty(const Decoder& d, const Field& at, const std::string& name, const std::string& value) {
  std::unique_ptr<rd_kafka_conf_t, void (*)(rd_kafka_conf_t*)> conf(rd_kafka_conf_new(), &rd_kafka_conf_destroy);
  char error[512];
  if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
    d.fail(at, "librdkafka refuses it: " + std::string(error));
  }
}

bool isTopicName(std::string_view s) {
  return !s.empty() && s.size() <= 249 && s != "." && s != ".." &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
             std::string_view::npos;
}

// HOST:PORT of a broker or HEP receiver ("" when fine, else what is wrong).
std::string checkPeerAddress(std::string_view s) {
  std::string problem = checkListenAddress(s);
  if (!problem.empty()) return problem;
  if (s.size() >= 2 && s.substr(s.size() - 2) == ":0") return "port 0 is not a port a server listens on";
  return "";
}

std::vector<std::string> splitList(std::string_view s, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(separator, start);
    parts.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// hep://HOST:PORT (UDP), hep+tcp://HOST:PORT, hep+tls://HOST:PORT.
std::string parseHepUrl(std::string_view url, HepEndpoint& out) {
  static constexpr std::pair<std::string_view, std::string_view> kSchemes[] = {
      {"hep://", "udp"}, {"hep+udp://", "udp"}, {"hep+tcp://", "tcp"}, {"hep+tls://", "tls"}};
  for (const auto& [scheme, transport] : kSchemes) {
    if (url.substr(0, scheme.size()) != scheme) continue;
    const std::string_view address = url.substr(scheme.size());
    const std::string problem = checkPeerAddress(address);
    if (!problem.empty()) return problem;
    const size_t colon = address.rfind(':');
    std::string_view host = address.substr(0, colon);
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    out.transport = std::string(transport);
    out.host = std::string(host);
    out.port = static_cast<uint16_t>(std::stoi(std::string(address.substr(colon + 1))));
    return "";
  }
  return "expected hep://HOST:PORT (UDP), hep+tcp://HOST:PORT or hep+tls://HOST:PORT, got \"" + echo(url) + "\"";
}

void decodeKafkaOutput(Decoder& d, const Field& f, OutputConfig& o) {
  KafkaOutputConfig& k = o.kafka;
  MapReader m(d, f,
              {"type", "brokers", "topic_prefix", "topics", "properties", "secret_properties", "queue_full",
               "block_timeout", "queue_messages", "shutdown_grace", "stats_interval", "queue_events"},
              "a map of Kafka output settings");
  m.take("type");
  auto brokers = m.take("brokers");
  if (!brokers) d.fail(f, "a kafka output needs brokers: [HOST:PORT, ...]");
  std::vector<std::pair<Field, std::string>> given;
  if (brokers->node.IsSequence()) {
    for (const Field& item : readListItems(d, *brokers, "a list of brokers such as [kafka-0:9092]", 256)) {
      given.emplace_back(item, readString(d, item));
    }
  } else {
    for (const std::string& b : splitList(readString(d, *brokers), ',')) given.emplace_back(*brokers, b);
  }
  if (given.empty()) d.fail(*brokers, "must list at least one broker");
  for (const auto& [at, broker] : given) {
    const std::string problem = checkPeerAddress(broker);
    if (!problem.empty()) d.fail(at, "broker " + problem);
    k.brokers.push_back(broker);
  }
  if (auto v = m.take("topic_prefix")) {
    k.topic_prefix = readString(d, *v);
    if (!k.topic_prefix.empty() && !isTopicName(k.topic_prefix)) {
      d.fail(*v, "may hold only letters, digits, '.', '_' and '-', got " + describe(v->node));
    }
  }
  if (auto v = m.take("topics")) {
    MapReader topics(d, *v, {"flow", "http", "sip", "sip_call", "dns", "tls", "stats"},
                     "a map from event type (flow, http, sip, sip_call, dns, tls, stats) to topic");
    for (size_t t = 0; t < kEventTypeCount; ++t) {
      if (auto name = topics.take(eventTypeName(EventType(t)))) {
        k.topics[t] = readString(d, *name);
        if (!isTopicName(k.topic_prefix + k.topics[t])) {
          d.fail(*name, "is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249 with the prefix)");
        }
      }
    }
  }
  if (auto v = m.take("properties")) {
    if (!v->node.IsMap()) d.fail(*v, "expected a map of librdkafka properties, got " + describe(v->node));
    for (auto it = v->node.begin(); it != v->node.end(); ++it) {
      const std::string name = it->first.Scalar();
      const Field item{it->second, v->path + "." + name, it->first.Mark()};
      d.remember(item);
      if (!it->second.IsScalar()) d.fail(item, "expected a string, number or boolean, got " + describe(it->second));
      const std::string value = it->second.Scalar();
      if (name == "bootstrap.servers" || name == "metadata.broker.list") {
        d.fail(item, "set the output's brokers instead");
      }
      if (isSecretProperty(name)) {
        d.failAt(it->first.Mark(), item.path,
                 "is a secret: move it to secret_properties as {file: PATH} or {env: VARIABLE}");
      }
      checkKafkaProperty(d, item, name, value);
      k.properties.emplace_back(name, value);
    }
  }
  if (auto v = m.take("secret_properties")) {
    if (!v->node.IsMap()) d.fail(*v, "expected a map of librdkafka properties to {file: PATH} or {env: NAME}");
    for (auto it = v->node.begin(); it != v->node.end(); ++it) {
      const std::string name = it->first.Scalar();
      const Field item{it->second, v->path + "." + name, it->first.Mark()};
      d.remember(item);
      SecretRef secret;
      decodeSecret(d, item, secret);
      checkKafkaProperty(d, item, name, "placeholder");  // the name only: the value is not read here
      k.secret_properties.emplace_back(name, std::move(secret));
    }
  }
  if (auto v = m.take("queue_full")) k.block_when_full = readOneOf(d, *v, {"drop", "block"}) == "block";
  if (auto v = m.take("block_timeout")) k.block_timeout = readDuration(d, *v, 0, 10 * kSecond);
  if (auto v = m.take("queue_messages")) k.queue_messages = readUint32(d, *v, 1, 10'000'000);
  if (auto v = m.take("shutdown_grace")) k.shutdown_grace = readDuration(d, *v, 0, 10 * kMinute);
  if (auto v = m.take("stats_interval")) {
    k.stats_interval = readDuration(d, *v, 0, kHour);
    if (k.stats_interval != 0 && k.stats_interval < kSecond) d.fail(*v, "must be 0s (no stats) or at least 1s");
  }
  if (auto v = m.take("queue_events")) o.queue_events = readUint32(d, *v, 16, 1u << 24);
}

void decodeHepOutput(Decoder& d, const Field& f, OutputConfig& o) {
  HepOutputConfig& h = o.hep;
  MapReader m(d, f,
              {"type", "destinations", "agent_id", "auth_key", "allow_auth_key_over_udp", "node_name",
               "buffer_bytes", "reconnect_min", "reconnect_max", "tls", "shutdown_grace", "queue_events"},
              "a map of HEP output settings");
  m.take("type");
  auto destinations = m.take("destinations");
  if (!destinations) d.fail(f, "a hep output needs destinations: [hep://HOST:PORT, ...]");
  Distinct<std::string> distinct;
  for (const Field& item : readListItems(d, *destinations, "a list such as [hep+tcp://homer:9061]", 16)) {
    const std::string url = readString(d, item);
    HepEndpoint endpoint;
    const std::string problem = parseHepUrl(url, endpoint);
    if (!problem.empty()) d.fail(item, problem);
    distinct.add(d, item, url, url);
    h.destinations.push_back(endpoint);
  }
  if (h.destinations.empty()) d.fail(*destinations, "must list at least one destination");
  if (auto v = m.take("agent_id")) h.agent_id = readUint32(d, *v, 0, std::numeric_limits<uint32_t>::max());
  auto auth_key = m.take("auth_key");
  if (auth_key) {
    decodeSecret(d, *auth_key, h.auth_key);
    h.has_auth_key = true;
  }
  if (auto v = m.take("allow_auth_key_over_udp")) h.allow_auth_key_over_udp = readBool(d, *v);
  if (auth_key && !h.allow_auth_key_over_udp) {
    for (const HepEndpoint& e : h.destinations) {
      if (e.transport == "udp") {
        d.fail(*auth_key, "would travel in clear text to " + e.host + ":" + std::to_string(e.port) +
                              " over UDP: use hep+tls://, or set allow_auth_key_over_udp: true to accept that");
      }
    }
  }
  if (auto v = m.take("node_name")) h.node_name = readString(d, *v);
  if (auto v = m.take("buffer_bytes")) h.buffer_bytes = static_cast<uint32_t>(readSize(d, *v, 64 * kKiB, kGiB));
  auto reconnect_min = m.take("reconnect_min");
  auto reconnect_max = m.take("reconnect_max");
  if (reconnect_min) h.reconnect_min = readDuration(d, *reconnect_min, kMillisecond, kMinute);
  if (reconnect_max) h.reconnect_max = readDuration(d, *reconnect_max, kMillisecond, kHour);
  if (h.reconnect_max < h.reconnect_min) {
    d.fail(reconnect_max ? *reconnect_max : *reconnect_min,
           "reconnect_max (" + formatDuration(h.reconnect_max) + ") must be at least reconnect_min (" +
               formatDuration(h.reconnect_min) + ")");
  }
  if (auto v = m.take("tls")) {
    MapReader tls(d, *v, {"ca_file", "verify", "server_name"}, "a map of TLS settings (ca_file, verify, server_name)");
    if (auto c = tls.take("ca_file")) h.tls_ca_file = d.resolvePath(readPath(d, *c));
    if (auto c = tls.take("verify")) h.tls_verify = readBool(d, *c);
    if (auto c = tls.take("server_name")) h.tls_server_name = readString(d, *c);
  }
  if (auto v = m.take("shutdown_grace")) h.shutdown_grace = readDuration(d, *v, 0, 10 * kMinute);
  if (auto v = m.take("queue_events")) o.queue_events = readUint32(d, *v, 16, 1u << 24);
}

void decodeOutput(Decoder& d, const Field& f, OutputConfig& o) {
  if (!f.node.IsMap()) d.fail(f, "expected a map with a type (jsonl, kafka or hep), got " + describe(f.node));
  // The type decides which other keys are valid, so it is judged first.
  std::optional<Field> type;
  for (auto it = f.node.begin(); it != f.node.end() && !type; ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == "type") {
      type = Field{it->second, f.path + ".type", it->first.Mark()};
    }
  }
  if (!type) d.failAt(f.node.Mark(), f.path + ".type", "required: jsonl, kafka or hep");
  o.type = readOneOf(d, *type, {"jsonl", "kafka", "hep"});
  if (o.type == "kafka") return decodeKafkaOutput(d, f, o);
  if (o.type == "hep") return decodeHepOutput(d, f, o);
  MapReader m(d, f, {"type", "path", "queue_events"}, "a map");
  m.take("type");
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

void decodeKubernetes(Decoder& d, const Field& f, KubernetesConfig& c) {
  MapReader m(d, f, {"enabled", "kubeconfig", "node_name", "labels", "initial_list_timeout"},
              "a map of Kubernetes settings");
  if (auto v = m.take("enabled")) c.enabled = readBool(d, *v);
  if (auto v = m.take("kubeconfig")) {
    const std::string path = readString(d, *v);  // "": in-cluster, as documented
    c.kubeconfig = path.empty() ? path : d.resolvePath(path);
  }
  if (auto v = m.take("node_name")) c.node_name = readString(d, *v);
  if (auto v = m.take("labels")) {
    Distinct<std::string> distinct;
    for (const Field& item : readListItems(d, *v, "a list of label keys such as [app, app.kubernetes.io/name]", 64)) {
      const std::string key = readString(d, item);
      const std::string problem = validateLabelKey(key);
      if (!problem.empty()) d.fail(item, problem);
      distinct.add(d, item, key, "label " + key);
      c.labels.push_back(key);
    }
  }
  if (auto v = m.take("initial_list_timeout")) c.initial_list_timeout = readDuration(d, *v, 0, 10 * kMinute);
}

// A selector as text ("app=web,tier in (a,b)") or in the API's structured form.
LabelSelector readSelector(Decoder& d, const Field& f) {
  std::string error;
  std::optional<LabelSelector> selector;
  if (f.node.IsScalar()) {
    selector = LabelSelector::parse(readString(d, f), error);
  } else {
    StructuredLabelSelector structured;
    MapReader m(d, f, {"matchLabels", "matchExpressions"},
                "a label selector: text such as \"app=web\", or {matchLabels: {...}, matchExpressions: [...]}");
    if (auto v = m.take("matchLabels")) {
      if (!v->node.IsMap()) d.fail(*v, "expected a map of labels, got " + describe(v->node));
      for (auto it = v->node.begin(); it != v->node.end(); ++it) {
        const Field value{it->second, v->path + "." + it->first.Scalar(), it->first.Mark()};
        structured.match_labels.emplace_back(it->first.Scalar(), readString(d, value));
      }
    }
    if (auto v = m.take("matchExpressions")) {
      for (const Field& item : readListItems(d, *v, "a list of {key, operator, values}", 64)) {
        MapReader e(d, item, {"key", "operator", "values"}, "{key, operator, values}");
        LabelSelectorExpression expression;
        if (auto k = e.take("key")) expression.key = readString(d, *k);
        if (auto o = e.take("operator")) expression.op = readOneOf(d, *o, {"In", "NotIn", "Exists", "DoesNotExist"});
        if (auto vs = e.take("values")) {
          for (const Field& value : readListItems(d, *vs, "a list of label values", 256)) {
            expression.values.push_back(readString(d, value));
          }
        }
        structured.match_expressions.push_back(std::move(expression));
      }
    }
    selector = LabelSelector::fromStructured(structured, error);
  }
  if (!selector) d.fail(f, "not a label selector: " + error);
  return *selector;
}

void decodeTargets(Decoder& d, const Field& f, std::vector<PodTarget>& targets) {
  for (const Field& item : readListItems(d, f, "a list of targets (- namespaces: [...], selector: ...)", 256)) {
    MapReader m(d, item, {"namespaces", "selector", "ports"}, "a target (namespaces, selector, ports)");
    PodTarget target;
    if (auto v = m.take("namespaces")) {
      for (const Field& ns : readListItems(d, *v, "a list of namespaces", 256)) {
        target.namespaces.push_back(readString(d, ns));
      }
    }
    if (auto v = m.take("selector")) target.selector = readSelector(d, *v);
    if (auto v = m.take("ports")) target.ports = readPortList(d, *v);
    targets.push_back(std::move(target));
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

// Fails at the first of `keys` that the file wrote (else at the document),
// for a check whose message names every key involved.
[[noreturn]] void failAtWritten(const Decoder& d, const Field& root, std::initializer_list<std::string> keys,
                                const std::string& message) {
  for (const std::string& key : keys) {
    if (const Field* f = d.seen(key)) d.fail(*f, message);
  }
  d.failAt(Decoder::markOf(root), *keys.begin(), message);
}

bool capturesInterfaces(const std::string& source) { return source == "afxdp" || source == "afpacket"; }

bool appliesXdpFilter(const CaptureConfig& c) {
  return c.source == "afxdp" || (c.source == "mirror" && c.mirror.capture == "afxdp");
}

// `has_targets`: the config's targets, which choose the interfaces to mirror.
void checkCapture(const Decoder& d, const Field& root, const CaptureConfig& c, ConfigUse use, bool has_targets) {
  // A value the chosen source would ignore is a mistake in the file, not a default.
  if (!c.interfaces.empty() && !capturesInterfaces(c.source)) {
    std::string why;
    if (c.source == "mirror") {
      why = "list the interfaces to mirror under capture.mirror.interfaces";
    } else if (c.source == "dpdk") {
      why = "DPDK takes its ports from capture.dpdk.eal_args (-a PCI address, --vdev) and capture.dpdk.ports";
    } else {
      why = "it reads capture.pcap.path; set capture.source to afxdp or afpacket to capture them";
    }
    failAtWritten(d, root, {"capture.interfaces"}, "not used by the " + c.source + " source: " + why);
  }
  if (!c.queues.empty() && c.source != "afxdp") {
    failAtWritten(d, root, {"capture.queues"},
                  "only the afxdp source captures chosen RX queues (capture.source is " + c.source +
                      "); write all or leave it out");
  }

  const CaptureFilterConfig& filter = c.filter;
  if ((!filter.cidrs.empty() || !filter.ports.empty() || !filter.protocols.empty()) && !appliesXdpFilter(c)) {
    const std::string source =
        c.source == "mirror" ? "mirror source with capture.mirror.capture afpacket" : c.source + " source";
    failAtWritten(d, root,
                  {"capture.filter.cidrs", "capture.filter.ports", "capture.filter.protocols", "capture.filter"},
                  "only tapflow's XDP program applies the filter (capture.source afxdp, or mirror with "
                  "capture.mirror.capture afxdp); the " + source + " would capture everything");
  }

  const AfXdpConfig& x = c.afxdp;
  if (x.fill_ring > x.frames) {
    failAtWritten(d, root, {"capture.afxdp.fill_ring", "capture.afxdp.frames"},
                  "capture.afxdp.fill_ring (" + std::to_string(x.fill_ring) + ") is more than capture.afxdp.frames (" +
                      std::to_string(x.frames) + "): the fill ring could never be kept full; lower fill_ring or "
                      "raise frames");
  }
  if (x.batch > x.rx_ring) {
    failAtWritten(d, root, {"capture.afxdp.batch", "capture.afxdp.rx_ring"},
                  "capture.afxdp.batch (" + std::to_string(x.batch) + ") is more than capture.afxdp.rx_ring (" +
                      std::to_string(x.rx_ring) + "): one poll cannot take more than the ring holds");
  }

  const AfPacketConfig& p = c.afpacket;
  const uint64_t ring_bytes = uint64_t(p.block_size) * p.block_count;
  if (ring_bytes > 4 * kGiB) {
    failAtWritten(d, root, {"capture.afpacket.block_count", "capture.afpacket.block_size"},
                  "capture.afpacket.block_size × block_count is " + formatSize(ring_bytes) +
                      " per socket, more than 4GiB; lower one of them");
  }

  const DpdkConfig& k = c.dpdk;
  // Every RX descriptor holds an mbuf, and each queue has a burst in flight on top.
  const uint64_t mbufs_needed = uint64_t(k.rx_queues) * (k.rx_descriptors + k.burst);
  if (k.mbufs < mbufs_needed) {
    failAtWritten(d, root,
                  {"capture.dpdk.mbufs", "capture.dpdk.rx_queues", "capture.dpdk.rx_descriptors", "capture.dpdk.burst"},
                  "capture.dpdk.mbufs (" + std::to_string(k.mbufs) + ") cannot fill " + std::to_string(k.rx_queues) +
                      " RX queue(s) × (" + std::to_string(k.rx_descriptors) + " descriptors + a burst of " +
                      std::to_string(k.burst) + ") = " + std::to_string(mbufs_needed) +
                      " mbufs; raise mbufs or lower rx_queues, rx_descriptors or burst");
  }

  if (use != ConfigUse::kRun) return;
  if (capturesInterfaces(c.source) && c.interfaces.empty()) {
    d.failAt(nearestMark(d, root, {"capture.interfaces", "capture.source", "capture"}), "capture.interfaces",
             "required when capture.source is " + c.source + ": list the interfaces to capture, such as [eth0]");
  }
  // With targets, the pods' routes choose the interfaces (the list only restricts them).
  if (c.source == "mirror" && c.mirror.interfaces.empty() && !has_targets) {
    d.failAt(nearestMark(d, root, {"capture.mirror.interfaces", "capture.mirror", "capture.source", "capture"}),
             "capture.mirror.interfaces",
             "required when capture.source is mirror without targets: list the interfaces or patterns to mirror, "
             "such as [eth0, \"cali*\"], or give targets");
  }
}

void checkAcrossSections(const Decoder& d, const Field& root, const Config& c, ConfigUse use) {
  checkCapture(d, root, c.capture, use, !c.targets.empty());
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
    if (c.outputs[i].type != "jsonl") continue;
    for (size_t j = 0; j < i; ++j) {
      if (c.outputs[j].type == "jsonl" && c.outputs[i].path == c.outputs[j].path) {
        const std::string output = "outputs[" + std::to_string(i) + "]";
        d.failAt(nearestMark(d, root, {output + ".path", output}), output + ".path",
                 "\"" + echo(c.outputs[i].path) + "\" is already the path of outputs[" +
                     std::to_string(j) + "]");
      }
    }
  }

  // Targets become the XDP program's address and port sets, from the cluster.
  if (!c.targets.empty()) {
    const YAML::Mark at = nearestMark(d, root, {"targets"});
    if (!c.kubernetes.enabled) {
      d.failAt(at, "targets", "need kubernetes.enabled: true, which resolves them to pods");
    }
    const bool xdp = c.capture.source == "afxdp" || (c.capture.source == "mirror" && c.capture.mirror.capture == "afxdp");
    if (!xdp && c.capture.source != "pcap") {
      d.failAt(at, "targets", "apply through the XDP program: capture.source afxdp, or mirror with mirror.capture "
                              "afxdp (not " + c.capture.source + ")");
    }
    if (!c.capture.filter.cidrs.empty() || !c.capture.filter.ports.empty()) {
      d.failAt(at, "targets", "replace capture.filter's cidrs and ports with the targeted pods' addresses and "
                              "ports: give one or the other (capture.filter.protocols may stay)");
    }
  }

  // HEP forwards whole SIP messages: the SIP analyzer must run, and must keep them.
  for (size_t i = 0; i < c.outputs.size(); ++i) {
    if (c.outputs[i].type != "hep") continue;
    const std::string output = "outputs[" + std::to_string(i) + "]";
    if (!c.analyzers.sip_ports.enabled) {
      d.failAt(nearestMark(d, root, {"analyzers.sip.enabled", output}), "analyzers.sip.enabled",
               "is false, but " + output + " is a hep output, which forwards what the SIP analyzer reads");
    }
    if (c.analyzers.sip.user_privacy != SipConfig::UserPrivacy::kKeep) {
      d.failAt(nearestMark(d, root, {"analyzers.sip.user_privacy", output}), "analyzers.sip.user_privacy",
               "hash and drop cannot apply to " + output +
                   ", a hep output: it forwards whole SIP messages, which name the users. Use keep, or remove "
                   "the hep output");
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
  MapReader m(d, root,
              {"capture", "workers", "flows", "defrag", "tcp_reassembly", "analyzers", "outputs", "kubernetes",
               "targets", "metrics", "logging"},
              "a map of sections (capture, workers, flows, defrag, tcp_reassembly, analyzers, outputs, kubernetes, "
              "targets, metrics, logging)");
  if (auto v = m.take("capture")) decodeCapture(d, *v, c.capture);
  if (auto v = m.take("workers")) decodeWorkers(d, *v, c.workers);
  if (auto v = m.take("flows")) decodeFlows(d, *v, c.flows);
  if (auto v = m.take("defrag")) decodeDefrag(d, *v, c.defrag);
  if (auto v = m.take("tcp_reassembly")) decodeTcpReassembly(d, *v, c.analyzers.tcp);
  if (auto v = m.take("analyzers")) decodeAnalyzers(d, *v, c.analyzers);
  if (auto v = m.take("outputs")) decodeOutputs(d, *v, c.outputs);
  if (auto v = m.take("kubernetes")) decodeKubernetes(d, *v, c.kubernetes);
  if (auto v = m.take("targets")) decodeTargets(d, *v, c.targets);
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

std::string OutputConfig::name() const {
  std::string out = type + ":";
  if (type == "kafka") {
    for (size_t i = 0; i < kafka.brokers.size(); ++i) out += (i ? "," : "") + kafka.brokers[i];
    if (!kafka.topic_prefix.empty()) out += "/" + kafka.topic_prefix;
  } else if (type == "hep") {
    for (size_t i = 0; i < hep.destinations.size(); ++i) {
      const HepEndpoint& e = hep.destinations[i];
      const bool v6 = e.host.find(':') != std::string::npos;
      out += std::string(i ? "," : "") + (e.transport == "udp" ? "hep://" : "hep+" + e.transport + "://") +
             (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
    }
  } else {
    out += path;
  }
  return out;
}

OutputConfig outputFromCommandLine(const std::string& arg) {
  OutputConfig o;
  const std::string_view s = arg;
  if (s.substr(0, 8) == "kafka://") {
    o.type = "kafka";
    std::string_view rest = s.substr(8);
    const size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      o.kafka.topic_prefix = std::string(rest.substr(slash + 1));
      rest = rest.substr(0, slash);
      if (!o.kafka.topic_prefix.empty() && !isTopicName(o.kafka.topic_prefix)) {
        throw ConfigError("-o " + arg + ": the topic prefix may hold only letters, digits, '.', '_' and '-'");
      }
    }
    for (const std::string& broker : splitList(rest, ',')) {
      const std::string problem = checkPeerAddress(broker);
      if (!problem.empty()) throw ConfigError("-o " + arg + ": broker " + problem);
      o.kafka.brokers.push_back(broker);
    }
    return o;
  }
  if (s.substr(0, 3) == "hep") {
    o.type = "hep";
    HepEndpoint endpoint;
    const std::string problem = parseHepUrl(s, endpoint);
    if (!problem.empty()) throw ConfigError("-o " + arg + ": " + problem);
    o.hep.destinations.push_back(endpoint);
    return o;
  }
  if (s.find("://") != std::string_view::npos) {
    throw ConfigError("-o " + arg + ": unknown output; use -, a file path, kafka://BROKER[,BROKER...][/PREFIX], "
                      "hep://HOST:PORT, hep+tcp://HOST:PORT or hep+tls://HOST:PORT");
  }
  o.type = "jsonl";
  o.path = arg;
  return o;
}

namespace {

void resolveSecret(SecretRef& secret) {
  if (!secret.env.empty()) {
    const char* value = std::getenv(secret.env.c_str());
    if (value == nullptr) throw ConfigError(secret.where + ": environment variable " + secret.env + " is not set");
    secret.value = value;
    return;
  }
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(secret.file.c_str(), "rb"), &std::fclose);
  if (!file) throw ConfigError(secret.where + ": cannot read " + secret.file + ": " + std::strerror(errno));
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    text.append(buffer, n);
    if (text.size() > 64 * kKiB) throw ConfigError(secret.where + ": " + secret.file + " is larger than 64KiB");
  }
  // Files written by `echo` or kubectl end with one newline that is not part of the secret.
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  secret.value = std::move(text);
}

}  // namespace

void resolveSecrets(Config& config) {
  for (OutputConfig& o : config.outputs) {
    for (auto& [name, secret] : o.kafka.secret_properties) resolveSecret(secret);
    if (o.hep.has_auth_key) resolveSecret(o.hep.auth_key);
  }
}

}  // namespace tapflow
