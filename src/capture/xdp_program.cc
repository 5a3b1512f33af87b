#include "capture/xdp_program.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>

#include "capture/packet_source.h"
#include "ops/log.h"
#include "tapflow_xdp_paths.h"

namespace tapflow {
namespace {

constexpr const char* kProgName = TAPFLOW_XDP_STR(TAPFLOW_XDP_PROG);

// libbpf and libxdp report through a print callback. Their warnings during a
// normal start are expected noise here (libxdp tries its multi-program
// dispatcher first and falls back), so they go to the debug log; the last one
// is kept to explain a failure that follows.
std::mutex g_lib_message_mutex;
std::string g_last_lib_warning;

void libMessage(bool warning, const char* format, va_list args) {
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof(buf), format, args);
  if (n <= 0) return;
  std::string text(buf, std::min<size_t>(size_t(n), sizeof(buf) - 1));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return;
  logDebug("libbpf/libxdp", {{"message", text}});
  if (warning) {
    std::lock_guard<std::mutex> lock(g_lib_message_mutex);
    g_last_lib_warning = text;
  }
}

int libbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level != LIBBPF_DEBUG) libMessage(level == LIBBPF_WARN, format, args);
  return 0;
}

int libxdpPrint(enum libxdp_print_level level, const char* format, va_list args) {
  if (level != LIBXDP_DEBUG) libMessage(level == LIBXDP_WARN, format, args);
  return 0;
}

void routeLibraryMessages() {
  static std::once_flag once;
  std::call_once(once, [] {
    libbpf_set_print(libbpfPrint);
    libxdp_set_print(libxdpPrint);
  });
}

std::string takeLastLibWarning() {
  std::lock_guard<std::mutex> lock(g_lib_message_mutex);
  std::string w;
  w.swap(g_last_lib_warning);
  return w;
}

std::string errnoText(int err) {
  if (err < 0) err = -err;
  char buf[128];
  if (libxdp_strerror(-err, buf, sizeof(buf)) == 0) return buf;
  return std::strerror(err);
}

// A kernel refusal, with the capability that usually explains it.
std::string kernelError(const std::string& what, int err) {
  if (err < 0) err = -err;
  std::string msg = what + ": " + errnoText(err);
  if (err == EPERM || err == EACCES) msg += " (needs CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN)";
  std::string lib = takeLastLibWarning();
  if (!lib.empty()) msg += " [" + lib + "]";
  return msg;
}

bool fileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

uint8_t protocolNumber(const std::string& name, size_t index) {
  if (name == "tcp") return 6;
  if (name == "udp") return 17;
  if (name == "sctp") return 132;
  if (name == "icmp") return 1;
  if (name == "ipv6-icmp" || name == "icmpv6") return 58;
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(name.c_str(), &end, 10);
  if (!name.empty() && *end == '\0' && errno == 0 && n >= 0 && n <= 255) return uint8_t(n);
  throw std::invalid_argument("capture.filter.protocols[" + std::to_string(index) + "]: unknown protocol '" + name +
                              "' (tcp, udp, sctp, icmp, ipv6-icmp or a number 0-255)");
}

template <size_t N>
void maskToPrefix(std::array<uint8_t, N>& addr, uint32_t prefix) {
  for (size_t i = 0; i < N; ++i) {
    uint32_t bit = uint32_t(i) * 8;
    if (bit >= prefix) {
      addr[i] = 0;
    } else if (prefix - bit < 8) {
      addr[i] &= uint8_t(0xff << (8 - (prefix - bit)));
    }
  }
}

}  // namespace

const char* xdpAttachModeName(XdpAttachMode mode) {
  return mode == XdpAttachMode::kNative ? "native" : "generic";
}

uint32_t XdpTargets::activeSets() const {
  uint32_t active = match_nothing ? TAPFLOW_XDP_FILTER_NOTHING : 0;
  if (!cidrs4.empty() || !cidrs6.empty()) active |= TAPFLOW_XDP_FILTER_CIDRS;
  if (!ports.empty()) active |= TAPFLOW_XDP_FILTER_PORTS;
  if (!protocols.empty()) active |= TAPFLOW_XDP_FILTER_PROTOCOLS;
  return active;
}

XdpTargets parseXdpTargets(const CaptureFilterConfig& filter) {
  XdpTargets t;
  t.match_nothing = filter.match_nothing;
  for (size_t i = 0; i < filter.cidrs.size(); ++i) {
    const std::string& entry = filter.cidrs[i];
    auto bad = [&](const std::string& why) {
      return std::invalid_argument("capture.filter.cidrs[" + std::to_string(i) + "]: '" + entry + "' " + why);
    };
    std::string addr = entry;
    long prefix = -1;
    if (size_t slash = entry.find('/'); slash != std::string::npos) {
      addr = entry.substr(0, slash);
      std::string len = entry.substr(slash + 1);
      char* end = nullptr;
      prefix = std::strtol(len.c_str(), &end, 10);
      if (len.empty() || *end != '\0') throw bad("has a bad prefix length");
    }
    std::array<uint8_t, 4> v4{};
    std::array<uint8_t, 16> v6{};
    if (inet_pton(AF_INET, addr.c_str(), v4.data()) == 1) {
      if (prefix == -1) prefix = 32;
      if (prefix < 0 || prefix > 32) throw bad("has a prefix length outside 0-32");
      maskToPrefix(v4, uint32_t(prefix));
      t.cidrs4.emplace(uint32_t(prefix), v4);
    } else if (inet_pton(AF_INET6, addr.c_str(), v6.data()) == 1) {
      if (prefix == -1) prefix = 128;
      if (prefix < 0 || prefix > 128) throw bad("has a prefix length outside 0-128");
      maskToPrefix(v6, uint32_t(prefix));
      t.cidrs6.emplace(uint32_t(prefix), v6);
    } else {
      throw bad("is not an IPv4 or IPv6 address or CIDR");
    }
  }
  for (size_t i = 0; i < filter.ports.size(); ++i) {
    if (filter.ports[i] < 1 || filter.ports[i] > 65535) {
      throw std::invalid_argument("capture.filter.ports[" + std::to_string(i) + "]: " + std::to_string(filter.ports[i]) +
                                  " is not a port (1-65535)");
    }
    t.ports.insert(uint16_t(filter.ports[i]));
  }
  for (size_t i = 0; i < filter.protocols.size(); ++i) t.protocols.insert(protocolNumber(filter.protocols[i], i));
  if (t.cidrs4.size() > TAPFLOW_XDP_MAX_CIDRS || t.cidrs6.size() > TAPFLOW_XDP_MAX_CIDRS) {
    throw std::invalid_argument("capture.filter.cidrs: more than " + std::to_string(TAPFLOW_XDP_MAX_CIDRS) +
                                " entries of one address family");
  }
  if (t.ports.size() > TAPFLOW_XDP_MAX_PORTS) {
    throw std::invalid_argument("capture.filter.ports: more than " + std::to_string(TAPFLOW_XDP_MAX_PORTS) +
                                " ports");
  }
  return t;
}

std::string resolveXdpObjectPath(const std::string& configured) {
  if (!configured.empty()) {
    if (!fileExists(configured)) {
      throw CaptureSetupError("XDP program " + configured + " (capture.afxdp.program) does not exist");
    }
    return configured;
  }
  for (const char* path : {TAPFLOW_XDP_OBJECT_BUILD_PATH, TAPFLOW_XDP_OBJECT_INSTALL_PATH}) {
    if (fileExists(path)) return path;
  }
  throw CaptureSetupError(std::string("XDP program tapflow_xdp.o not found at ") + TAPFLOW_XDP_OBJECT_BUILD_PATH +
                          " or " + TAPFLOW_XDP_OBJECT_INSTALL_PATH + ": set capture.afxdp.program");
}

XdpProgram::XdpProgram(const std::string& interface, const std::string& object_path,
                       const CaptureFilterConfig& filter)
    : interface_(interface) {
  routeLibraryMessages();
  XdpTargets initial;
  try {
    initial = parseXdpTargets(filter);
  } catch (const std::invalid_argument& e) {
    throw CaptureSetupError(e.what());
  }
  ifindex_ = int(if_nametoindex(interface.c_str()));
  if (ifindex_ == 0) throw CaptureSetupError("interface " + interface + " does not exist");

  prog_ = xdp_program__open_file(object_path.c_str(), nullptr, nullptr);
  if (long err = libxdp_get_error(prog_); err != 0) {
    prog_ = nullptr;
    throw CaptureSetupError(kernelError("cannot open XDP program " + object_path, int(err)));
  }
  try {
    if (std::strcmp(xdp_program__name(prog_), kProgName) != 0) {
      throw CaptureSetupError("XDP program " + object_path + " is not tapflow's (its program is " +
                              xdp_program__name(prog_) + ", expected " + kProgName + ")");
    }
    // The maps are created here, before the program is loaded, so the target
    // sets are in place and the sockets registered before the first packet
    // meets the program. Their layout comes from the object itself.
    bpf_object* obj = xdp_program__bpf_obj(prog_);
    auto create = [&](const char* name) {
      bpf_map* map = bpf_object__find_map_by_name(obj, name);
      if (map == nullptr) {
        throw CaptureSetupError("XDP program " + object_path + " has no map " + name + ": not tapflow's program");
      }
      LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = bpf_map__map_flags(map));
      int fd = bpf_map_create(bpf_map__type(map), name, bpf_map__key_size(map), bpf_map__value_size(map),
                              bpf_map__max_entries(map), &opts);
      if (fd < 0) throw CaptureSetupError(kernelError(std::string("cannot create BPF map ") + name, errno));
      if (int err = bpf_map__reuse_fd(map, fd); err != 0) {
        ::close(fd);
        throw CaptureSetupError(kernelError(std::string("cannot use BPF map ") + name, err));
      }
      return fd;
    };
    xsks_fd_ = create(TAPFLOW_XDP_STR(TAPFLOW_XDP_XSKS_MAP));
    cidr4_fd_ = create(TAPFLOW_XDP_STR(TAPFLOW_XDP_CIDR4_MAP));
    cidr6_fd_ = create(TAPFLOW_XDP_STR(TAPFLOW_XDP_CIDR6_MAP));
    ports_fd_ = create(TAPFLOW_XDP_STR(TAPFLOW_XDP_PORTS_MAP));
    protos_fd_ = create(TAPFLOW_XDP_STR(TAPFLOW_XDP_PROTOS_MAP));
    config_fd_ = create(TAPFLOW_XDP_STR(TAPFLOW_XDP_CONFIG_MAP));
    stats_fd_ = create(TAPFLOW_XDP_STR(TAPFLOW_XDP_STATS_MAP));
    cpus_ = libbpf_num_possible_cpus();
    if (cpus_ < 1) throw CaptureSetupError("cannot read the number of possible CPUs");
    std::lock_guard<std::mutex> lock(mutex_);
    applyTargets(initial);
  } catch (...) {
    closeAll();
    throw;
  }
}

void XdpProgram::closeAll() {
  for (int* fd : {&xsks_fd_, &cidr4_fd_, &cidr6_fd_, &ports_fd_, &protos_fd_, &config_fd_, &stats_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (prog_ != nullptr) xdp_program__close(prog_);
  prog_ = nullptr;
}

int XdpProgram::detach() {
  // By the fd this process holds, with XDP_FLAGS_REPLACE: the kernel removes
  // the program only if it is still ours. libxdp's own detach first looks the
  // attached program up by id (BPF_PROG_GET_FD_BY_ID), which needs
  // CAP_SYS_ADMIN, and fails without it, leaving the program in place.
  const __u32 mode_flag = mode_ == XdpAttachMode::kNative ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = xdp_program__fd(prog_));
  int err = bpf_xdp_detach(ifindex_, mode_flag, &opts);
  // EEXIST: what is attached is not our program itself but libxdp's
  // multi-program dispatcher running it (where freplace works): libxdp
  // knows how to take that apart.
  if (err == -EEXIST) {
    err = xdp_program__detach(prog_, ifindex_, mode_ == XdpAttachMode::kNative ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
  }
  return err;
}

XdpProgram::~XdpProgram() {
  if (attached_) {
    int err = detach();
    if (err != 0 && int(if_nametoindex(interface_.c_str())) != ifindex_) {
      logInfo("interface gone: its XDP program went with it", {{"interface", interface_}});
    } else if (err != 0) {
      logWarn("cannot detach the XDP program", {{"interface", interface_}, {"error", errnoText(err)}});
    } else {
      logInfo("XDP program detached", {{"interface", interface_}});
    }
  }
  closeAll();
}

void XdpProgram::replaceLeftover() {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex_);
  if (long lib_err = libxdp_get_error(mp); lib_err != 0 || mp == nullptr) {
    // Nothing attached, or a program libxdp cannot open: it opens it by id
    // (BPF_PROG_GET_FD_BY_ID), which takes CAP_SYS_ADMIN. Without that, the
    // name that would tell a killed tapflow's program from someone else's is
    // out of reach, and attaching next to it fails: say so, and how to fix it.
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    if (bpf_xdp_query(ifindex_, 0, &query) != 0 || query.attach_mode == XDP_ATTACHED_NONE) return;
    const uint32_t id =
        query.prog_id != 0 ? query.prog_id : (query.drv_prog_id != 0 ? query.drv_prog_id : query.skb_prog_id);
    throw CaptureSetupError("interface " + interface_ + " already has an XDP program (id " + std::to_string(id) +
                            ") that tapflow cannot inspect (" + errnoText(int(lib_err != 0 ? lib_err : -ENOENT)) +
                            "; reading another program's name needs CAP_SYS_ADMIN): if a killed tapflow left it, " +
                            "remove it with `ip link set dev " + interface_ + " xdp off` (or xdpgeneric off)");
  }
  auto replaced = [&](xdp_program* p) {
    logWarn("replacing a tapflow XDP program left by a previous run",
            {{"interface", interface_}, {"program_id", std::to_string(xdp_program__id(p))}});
  };
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* main = xdp_multiprog__main_prog(mp);
    if (main != nullptr && std::strcmp(xdp_program__name(main), kProgName) == 0) {
      replaced(main);
      if (int err = xdp_multiprog__detach(mp); err != 0) {
        xdp_multiprog__close(mp);
        throw CaptureSetupError(kernelError("cannot detach the old tapflow XDP program from " + interface_, err));
      }
    }
  } else {
    enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p != nullptr; p = xdp_multiprog__next_prog(p, mp)) {
      if (std::strcmp(xdp_program__name(p), kProgName) != 0) continue;
      replaced(p);
      if (int err = xdp_program__detach(p, ifindex_, mode, 0); err != 0) {
        xdp_multiprog__close(mp);
        throw CaptureSetupError(kernelError("cannot detach the old tapflow XDP program from " + interface_, err));
      }
      break;  // the list is stale once the dispatcher changed
    }
  }
  xdp_multiprog__close(mp);
}

void XdpProgram::attach(const std::string& xdp_mode) {
  if (attached_) return;
  if (xdp_mode != "auto" && xdp_mode != "native" && xdp_mode != "generic") {
    throw CaptureSetupError("capture.afxdp.xdp_mode: unknown mode " + xdp_mode + " (auto, native or generic)");
  }
  replaceLeftover();
  std::string native_error;
  if (xdp_mode != "generic") {
    int err = xdp_program__attach(prog_, ifindex_, XDP_MODE_NATIVE, 0);
    if (err == 0) {
      mode_ = XdpAttachMode::kNative;
      attached_ = true;
    } else {
      native_error = kernelError("native XDP on " + interface_, err);
      if (xdp_mode == "native") throw CaptureSetupError(native_error);
    }
  }
  if (!attached_) {
    int err = xdp_program__attach(prog_, ifindex_, XDP_MODE_SKB, 0);
    if (err != 0) {
      std::string msg = kernelError("cannot attach the XDP program to " + interface_ + " in generic mode", err);
      if (!native_error.empty()) msg += "; " + native_error;
      throw CaptureSetupError(msg);
    }
    mode_ = XdpAttachMode::kGeneric;
    attached_ = true;
    if (!native_error.empty()) {
      logWarn("native XDP refused: using generic (SKB) XDP, slower", {{"interface", interface_},
                                                                       {"error", native_error}});
    }
  }
  takeLastLibWarning();  // the dispatcher fallback's warnings are not news
  logInfo("XDP program attached", {{"interface", interface_},
                                   {"xdp_mode", xdpAttachModeName(mode_)},
                                   {"program_id", std::to_string(programId())}});
}

uint32_t XdpProgram::programId() const { return prog_ != nullptr ? xdp_program__id(prog_) : 0; }

void XdpProgram::applyTargets(const XdpTargets& next) {
  const tapflow_set_value one = 1;
  const tapflow_set_value zero = 0;
  auto check = [&](int rc, const std::string& what) {
    if (rc != 0) throw std::runtime_error(kernelError("XDP target set on " + interface_ + ": cannot " + what, errno));
  };
  auto v4key = [](const auto& entry) {
    tapflow_lpm_v4_key k{};
    k.prefixlen = entry.first;
    std::memcpy(k.addr, entry.second.data(), sizeof(k.addr));
    return k;
  };
  auto v6key = [](const auto& entry) {
    tapflow_lpm_v6_key k{};
    k.prefixlen = entry.first;
    std::memcpy(k.addr, entry.second.data(), sizeof(k.addr));
    return k;
  };
  // Widen first: a set that becomes active is filled before its flag is set,
  // new entries go in before stale ones go out.
  for (const auto& e : next.cidrs4) {
    if (targets_.cidrs4.count(e)) continue;
    auto k = v4key(e);
    check(bpf_map_update_elem(cidr4_fd_, &k, &one, BPF_ANY), "add a CIDR");
  }
  for (const auto& e : next.cidrs6) {
    if (targets_.cidrs6.count(e)) continue;
    auto k = v6key(e);
    check(bpf_map_update_elem(cidr6_fd_, &k, &one, BPF_ANY), "add a CIDR");
  }
  for (uint16_t port : next.ports) {
    if (targets_.ports.count(port)) continue;
    tapflow_port_key k = htons(port);
    check(bpf_map_update_elem(ports_fd_, &k, &one, BPF_ANY), "add a port");
  }
  for (uint8_t proto : next.protocols) {
    if (targets_.protocols.count(proto)) continue;
    uint32_t k = proto;
    check(bpf_map_update_elem(protos_fd_, &k, &one, BPF_ANY), "add a protocol");
  }
  // A set that is now empty stops being active before it is emptied (an
  // active empty set would match nothing).
  uint32_t zero_key = 0;
  tapflow_xdp_config config{};
  config.active = next.activeSets();
  check(bpf_map_update_elem(config_fd_, &zero_key, &config, BPF_ANY), "set the active sets");
  for (const auto& e : targets_.cidrs4) {
    if (next.cidrs4.count(e)) continue;
    auto k = v4key(e);
    check(bpf_map_delete_elem(cidr4_fd_, &k), "remove a CIDR");
  }
  for (const auto& e : targets_.cidrs6) {
    if (next.cidrs6.count(e)) continue;
    auto k = v6key(e);
    check(bpf_map_delete_elem(cidr6_fd_, &k), "remove a CIDR");
  }
  for (uint16_t port : targets_.ports) {
    if (next.ports.count(port)) continue;
    tapflow_port_key k = htons(port);
    check(bpf_map_delete_elem(ports_fd_, &k), "remove a port");
  }
  for (uint8_t proto : targets_.protocols) {
    if (next.protocols.count(proto)) continue;
    uint32_t k = proto;
    check(bpf_map_update_elem(protos_fd_, &k, &zero, BPF_ANY), "remove a protocol");
  }
  targets_ = next;
}

void XdpProgram::updateTargets(const CaptureFilterConfig& filter) {
  XdpTargets next = parseXdpTargets(filter);
  std::lock_guard<std::mutex> lock(mutex_);
  if (next == targets_) return;
  applyTargets(next);
  logInfo("XDP target set updated", {{"interface", interface_},
                                     {"cidrs", std::to_string(next.cidrs4.size() + next.cidrs6.size())},
                                     {"ports", std::to_string(next.ports.size())},
                                     {"protocols", std::to_string(next.protocols.size())}});
}

XdpTargets XdpProgram::targets() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return targets_;
}

XdpProgram::ActionCounts XdpProgram::counters() const {
  ActionCounts out{};
  std::vector<tapflow_xdp_count> per_cpu(static_cast<size_t>(cpus_));
  for (uint32_t action = 0; action < TAPFLOW_XDP_ACTION_COUNT; ++action) {
    if (bpf_map_lookup_elem(stats_fd_, &action, per_cpu.data()) != 0) continue;
    for (const tapflow_xdp_count& c : per_cpu) {
      out[action].packets += c.packets;
      out[action].bytes += c.bytes;
    }
  }
  return out;
}

int XdpProgram::testRun(const uint8_t* frame, uint32_t len) {
  // XDP may grow or rewrite the frame: give the kernel room to write it back.
  std::vector<uint8_t> out(size_t(len) + 512);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_out = out.data(), .data_size_in = len,
              .data_size_out = uint32_t(out.size()), .repeat = 1);
  int err = xdp_program__test_run(prog_, &opts, 0);
  return err != 0 ? (err < 0 ? err : -err) : int(opts.retval);
}

const char* XdpProgram::actionName(size_t action) {
#define TAPFLOW_XDP_ACTION_NAME(suffix, name) #name,
  static const char* const kNames[] = {TAPFLOW_XDP_ACTIONS(TAPFLOW_XDP_ACTION_NAME)};
#undef TAPFLOW_XDP_ACTION_NAME
  return action < TAPFLOW_XDP_ACTION_COUNT ? kNames[action] : "unknown";
}

void XdpProgram::collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const {
  ActionCounts counts = counters();
  for (size_t a = 0; a < counts.size(); ++a) {
    MetricLabels l = labels;
    l.emplace_back("interface", interface_);
    l.emplace_back("action", actionName(a));
    metrics.counter("tapflow_xdp_packets_total", "Packets tapflow's XDP program handled, by what it did with them", l,
                    counts[a].packets);
    metrics.counter("tapflow_xdp_bytes_total", "Bytes tapflow's XDP program handled, by what it did with them", l,
                    counts[a].bytes);
  }
}

}  // namespace tapflow
