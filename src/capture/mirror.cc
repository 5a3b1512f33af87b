#include "capture/mirror.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fnmatch.h>
#include <linux/if_ether.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "capture/afpacket_source.h"
#include "capture/afxdp_source.h"
#include "capture/rtnetlink.h"
#include "ops/log.h"
#include "tapflow_mirror_paths.h"
#include "tapflow_mirror_shared.h"

namespace tapflow {
namespace {

// Big enough for jumbo frames on the mirrored interfaces; GSO packets pass a
// veth whatever its MTU. AF_XDP keeps the default: native XDP on veth refuses
// a peer MTU above about a page.
constexpr uint32_t kAfPacketVethMtu = 65535;
// While targets choose the interfaces, their routes are looked up this often:
// a pod's veth can be recreated under a new ifindex without the pod changing.
constexpr auto kRouteRecheck = std::chrono::milliseconds(200);
const char* const kMirrorProgName = TAPFLOW_MIRROR_STR(TAPFLOW_MIRROR_PROG);

std::string errnoText(int err) { return std::strerror(err < 0 ? -err : err); }

std::string addressText(const MirrorTargetAddress& a) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.version == 4 ? AF_INET : AF_INET6, a.addr.bytes, text, sizeof(text));
  return text;
}

bool isPattern(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// libbpf reports to stderr by default; tapflow's stderr is JSON log lines.
// Its messages are details of errors tapflow reports itself, with context.
int libbpfToLog(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char text[512];
  int n = std::vsnprintf(text, sizeof(text), format, args);
  std::string line(text, n > 0 ? std::min<size_t>(size_t(n), sizeof(text) - 1) : 0);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  logDebug("libbpf", {{"message", line}});
  return 0;
}

std::string findMirrorObject() {
  for (const char* path : {TAPFLOW_MIRROR_OBJECT_BUILD_PATH, TAPFLOW_MIRROR_OBJECT_INSTALL_PATH}) {
    if (access(path, R_OK) == 0) return path;
  }
  throw CaptureSetupError(std::string("the mirror's tc program is missing: neither ") +
                          TAPFLOW_MIRROR_OBJECT_BUILD_PATH + " nor " + TAPFLOW_MIRROR_OBJECT_INSTALL_PATH +
                          " can be read");
}

bpf_tc_hook tcHook(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  return hook;
}

bpf_tc_opts tcOpts(uint32_t handle, uint32_t priority, int prog_fd = 0, uint32_t flags = 0) {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = handle;
  opts.priority = priority;
  opts.prog_fd = prog_fd;
  opts.flags = flags;
  return opts;
}

constexpr uint32_t kIngressParent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
constexpr uint32_t kEgressParent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS);

// Best effort: a veth end without IPv6 sends nothing on its own (no MLD
// reports, no router solicitations) that would show up in the capture.
void disableIpv6(const std::string& interface) {
  std::ofstream f("/proc/sys/net/ipv6/conf/" + interface + "/disable_ipv6");
  if (f) f << "1\n";
}

// A source capturing the mirror's veth that keeps the mirror alive as long as
// it lives; the first one of a mirror also reports the mirror's metrics.
class MirrorCaptureSource : public PacketSource {
 public:
  MirrorCaptureSource(std::shared_ptr<Mirror> mirror, std::unique_ptr<PacketSource> inner, bool report_mirror)
      : mirror_(std::move(mirror)), inner_(std::move(inner)), report_mirror_(report_mirror) {}

  const std::string& name() const override { return inner_->name(); }
  bool isOffline() const override { return false; }
  void run(Handoff& handoff, const std::atomic<bool>& stop) override { inner_->run(handoff, stop); }
  Timestamp lastTimestamp() const override { return inner_->lastTimestamp(); }
  const CaptureStats& stats() const override { return inner_->stats(); }
  const DecodeStats& decodeStats() const override { return inner_->decodeStats(); }
  void collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const override {
    inner_->collectMetrics(metrics, labels);
    if (report_mirror_) mirror_->collectMetrics(metrics, {});
  }
  XdpProgram* xdpProgram() const override { return inner_->xdpProgram(); }
  Mirror& mirror() const { return *mirror_; }

 private:
  std::shared_ptr<Mirror> mirror_;  // declared first: outlives the capture on its veth
  std::unique_ptr<PacketSource> inner_;  // the source capturing the veth's far end
  bool report_mirror_;
};

}  // namespace

uint32_t mirrorFilterHandle(const std::string& veth_name) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : veth_name) h = (h ^ c) * 16777619u;
  // Top byte fixed so that `tc filter show` makes tapflow's filters easy to spot.
  return 0x7f000000u | (h & 0x00ffffffu);
}

bool mirrorSelects(const std::vector<std::string>& patterns, const std::string& name,
                   const std::string& veth_name) {
  if (name == veth_name || name == veth_name + "c") return false;
  for (const std::string& p : patterns) {
    if (p == name) return true;
    if (isPattern(p) && fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

TargetRoute targetRoute(int rc, const RouteInfo& route) {
  TargetRoute r;
  if (rc != 0) return r;
  r.oif = route.oif;
  if (route.type == RTN_LOCAL) {
    r.kind = TargetRoute::kLocal;
  } else if (route.type == RTN_UNICAST && route.oif > 0 && !route.gateway) {
    r.kind = TargetRoute::kInterface;
  }
  // Anything else sends nothing to a pod of this node: blackhole, unreachable,
  // and a route through a gateway (the default route, while a pod's own route
  // is not there yet or any more), which would mirror the uplink whole.
  return r;
}

TargetInterfaceChoice chooseTargetInterfaces(const std::vector<TargetRoute>& routes,
                                             const std::vector<LinkInfo>& links,
                                             const std::vector<std::string>& allowed, const std::string& veth_name) {
  TargetInterfaceChoice choice;
  std::map<int, const LinkInfo*> by_index;
  for (const LinkInfo& l : links) by_index[l.ifindex] = &l;
  auto own = [&](const std::string& name) { return name == veth_name || name == veth_name + "c"; };
  bool any_local = false;
  for (const TargetRoute& r : routes) {
    if (r.kind == TargetRoute::kNone) {
      ++choice.unroutable;
      continue;
    }
    auto it = by_index.find(r.oif);
    const LinkInfo* link = it == by_index.end() ? nullptr : it->second;
    if (r.kind == TargetRoute::kLocal || (link != nullptr && (link->flags & IFF_LOOPBACK) != 0)) {
      ++choice.local;
      any_local = true;
    } else if (link == nullptr) {
      ++choice.unroutable;  // gone between the route lookup and the listing
    } else if (own(link->name) || (!allowed.empty() && !mirrorSelects(allowed, link->name, veth_name))) {
      ++choice.excluded;
    } else {
      ++choice.routed;
      choice.interfaces[link->ifindex] = link->name;
    }
  }
  if (any_local) {
    for (const LinkInfo& l : links) {
      if ((l.flags & IFF_LOOPBACK) != 0 || own(l.name)) continue;
      if (std::find(allowed.begin(), allowed.end(), l.name) != allowed.end()) choice.interfaces[l.ifindex] = l.name;
    }
  }
  return choice;
}

MirrorChanges mirrorChanges(const std::vector<int>& current, const std::vector<int>& wanted) {
  MirrorChanges changes;
  std::set_difference(wanted.begin(), wanted.end(), current.begin(), current.end(),
                      std::back_inserter(changes.attach));
  std::set_difference(current.begin(), current.end(), wanted.begin(), wanted.end(),
                      std::back_inserter(changes.detach));
  return changes;
}

struct Mirror::Impl {
  struct Attached {
    std::string name;
    bool created_qdisc = false;  // tapflow made the clsact qdisc: remove it when it is empty
  };

  MirrorConfig config;
  std::string veth;          // clone target
  std::string capture_name;  // far end, captured
  uint32_t handle;
  Rtnetlink nl;  // constructor, control thread and destructor: never at the same time
  bpf_object* obj = nullptr;
  int mirror_fd = -1;
  int sink_fd = -1;
  int stats_fd = -1;
  int veth_ifindex = 0;
  int capture_ifindex = 0;
  std::map<int, Attached> attached;  // by ifindex
  std::map<int, std::string> failed;  // selected but refused: retried each rescan, reported once
  std::atomic<size_t> mirrored{0};
  MirrorStats stats;

  // Control thread only (and the constructor): whether the attached set was
  // chosen by the targets, the routes it was chosen from, the addresses
  // already reported as not mirrored.
  bool following = false;
  std::vector<TargetRoute> last_routes;
  bool routes_current = false;
  std::set<std::string> reported_addresses;
  // For /metrics: targeted addresses by how they route (TargetInterfaceChoice).
  std::atomic<bool> following_now{false};
  std::atomic<size_t> addresses_routed{0}, addresses_local{0}, addresses_unroutable{0}, addresses_excluded{0};

  std::thread thread;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  MirrorTargets requested;     // under mutex: the keeper's latest
  bool targets_dirty = false;  // under mutex: requested changed since the control thread took it

  explicit Impl(const MirrorConfig& c)
      : config(c), veth(c.veth_name), capture_name(c.veth_name + "c"), handle(mirrorFilterHandle(c.veth_name)) {}

  ~Impl() {
    if (thread.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        stopping = true;
      }
      wake.notify_all();
      thread.join();
    }
    for (auto& [ifindex, a] : attached) detach(ifindex, a);
    attached.clear();
    mirrored.store(0);
    if (veth_ifindex != 0) {
      // Deleting one end deletes both, and the sink filter and qdisc on them.
      int rc = nl.deleteLink(veth_ifindex);
      if (rc != 0 && rc != -ENODEV) {
        stats.detach_failures.add();
        logWarn("cannot delete the mirror veth pair", {{"veth", veth}, {"error", netlinkErrorText(nl, rc)}});
      }
    }
    if (obj != nullptr) bpf_object__close(obj);
  }

  [[noreturn]] void fail(const std::string& what, int rc) {
    if (rc == -EPERM || rc == -EACCES) {
      throw CaptureSetupError("CAP_NET_ADMIN is needed for mirror mode (" + what + ": " +
                              netlinkErrorText(nl, rc) + ")");
    }
    throw CaptureSetupError("mirror mode: " + what + ": " + netlinkErrorText(nl, rc));
  }

  // A pair left by a run that was killed: delete it, but only if it is
  // certainly tapflow's (a veth whose peer carries the "c" name).
  void removeLeftoverPair() {
    for (const std::string& name : {veth, capture_name}) {
      LinkInfo link;
      int rc = nl.getLink(name, link);
      if (rc == -ENODEV) continue;
      if (rc != 0) fail("cannot look up interface " + name, rc);
      bool ours = link.kind == "veth" && link.link != 0;
      if (ours) {
        std::vector<LinkInfo> links;
        nl.listLinks(links);
        auto it = std::find_if(links.begin(), links.end(), [&](const LinkInfo& l) { return l.ifindex == link.link; });
        ours = it != links.end() && (it->name == veth || it->name == capture_name);
      }
      if (!ours) {
        throw CaptureSetupError("capture.mirror.veth_name: interface " + name +
                                " exists and is not a tapflow veth pair; choose another name");
      }
      rc = nl.deleteLink(link.ifindex);
      if (rc != 0 && rc != -ENODEV) fail("cannot delete the leftover veth pair " + name, rc);
      logInfo("removed a leftover mirror veth pair", {{"veth", name}});
    }
  }

  void createPair(uint32_t mtu) {
    // One queue per end: every clone leaves on TX queue 0 and arrives on RX
    // queue 0, the one queue an AF_XDP capture then has to serve.
    int rc = nl.createVethPair(veth, capture_name, mtu, 1);
    if (rc == -EOPNOTSUPP) {
      throw CaptureSetupError("veth support (kernel CONFIG_VETH) is needed for mirror mode");
    }
    if (rc != 0) fail("cannot create the veth pair " + veth + "/" + capture_name, rc);
    LinkInfo a, b;
    if ((rc = nl.getLink(veth, a)) != 0) fail("cannot find the new veth " + veth, rc);
    veth_ifindex = a.ifindex;  // from here on the destructor deletes the pair
    if ((rc = nl.getLink(capture_name, b)) != 0) fail("cannot find the new veth " + capture_name, rc);
    capture_ifindex = b.ifindex;
    for (const LinkInfo* l : {&a, &b}) {
      // Quiet ends: no IPv6 addresses, no ARP. Whatever they sent would be captured.
      nl.setIpv6AddrGenModeNone(l->ifindex);
      disableIpv6(l->name);
      rc = nl.setLinkFlags(l->ifindex, IFF_UP | IFF_NOARP, IFF_UP | IFF_NOARP);
      if (rc != 0) fail("cannot set " + l->name + " up", rc);
    }
  }

  void loadPrograms() {
    libbpf_set_print(libbpfToLog);
    std::string path = findMirrorObject();
    obj = bpf_object__open_file(path.c_str(), nullptr);
    if (obj == nullptr) {
      throw CaptureSetupError("cannot open the mirror's tc program " + path + ": " + errnoText(errno));
    }
    int rc = bpf_object__load(obj);
    if (rc != 0) {
      if (rc == -EPERM || rc == -EACCES) {
        throw CaptureSetupError("CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN) are needed to load the mirror's "
                                "tc program (" + errnoText(rc) + ")");
      }
      throw CaptureSetupError("the kernel refused the mirror's tc program " + path + ": " + errnoText(rc));
    }
    bpf_program* mirror = bpf_object__find_program_by_name(obj, kMirrorProgName);
    bpf_program* sink = bpf_object__find_program_by_name(obj, TAPFLOW_MIRROR_STR(TAPFLOW_MIRROR_SINK_PROG));
    bpf_map* config_map = bpf_object__find_map_by_name(obj, TAPFLOW_MIRROR_STR(TAPFLOW_MIRROR_CONFIG_MAP));
    bpf_map* stats_map = bpf_object__find_map_by_name(obj, TAPFLOW_MIRROR_STR(TAPFLOW_MIRROR_STATS_MAP));
    if (mirror == nullptr || sink == nullptr || config_map == nullptr || stats_map == nullptr) {
      throw CaptureSetupError("the mirror's tc program " + path + " lacks its programs or maps: rebuild tapflow");
    }
    mirror_fd = bpf_program__fd(mirror);
    sink_fd = bpf_program__fd(sink);
    stats_fd = bpf_map__fd(stats_map);
    uint32_t key = 0;
    tapflow_mirror_config value{};
    value.target_ifindex = uint32_t(veth_ifindex);
    if (bpf_map_update_elem(bpf_map__fd(config_map), &key, &value, BPF_ANY) != 0) {
      throw CaptureSetupError("cannot configure the mirror's tc program: " + errnoText(errno));
    }
  }

  // Clones reach the captured end's taps (AF_PACKET) and XDP before its tc
  // ingress; the sink there keeps them out of its IP stack.
  void attachSink() {
    bpf_tc_hook hook = tcHook(capture_ifindex, BPF_TC_INGRESS);
    int rc = bpf_tc_hook_create(&hook);
    if (rc != 0 && rc != -EEXIST) fail("cannot add a clsact qdisc to " + capture_name, rc);
    bpf_tc_opts opts = tcOpts(handle, kMirrorFilterPriority, sink_fd, BPF_TC_F_REPLACE);
    rc = bpf_tc_attach(&hook, &opts);
    if (rc != 0) fail("cannot attach the sink filter to " + capture_name, rc);
  }

  bool isTapflowFilter(const TcFilterInfo& f) const {
    return f.priority == kMirrorFilterPriority && f.handle == handle && f.chain == 0;
  }

  // Reads both hooks: whether tapflow's filter is on either, and whether
  // anything else is (the kernel's per-priority header entries aside).
  bool inspectHooks(int ifindex, bool& ours, bool& others) {
    ours = others = false;
    for (uint32_t parent : {kIngressParent, kEgressParent}) {
      std::vector<TcFilterInfo> filters;
      if (nl.listFilters(ifindex, parent, filters) != 0) return false;
      for (const TcFilterInfo& f : filters) {
        if (isTapflowFilter(f)) {
          ours = true;
        } else if (!(f.handle == 0 && f.priority == kMirrorFilterPriority && f.chain == 0)) {
          others = true;
        }
      }
    }
    return true;
  }

  void detachFilters(int ifindex) {
    for (bpf_tc_attach_point point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
      bpf_tc_hook hook = tcHook(ifindex, point);
      bpf_tc_opts opts = tcOpts(handle, kMirrorFilterPriority);
      int rc = bpf_tc_detach(&hook, &opts);
      if (rc != 0 && rc != -ENOENT && rc != -ENODEV && rc != -EINVAL) {
        stats.detach_failures.add();
        logWarn("cannot remove a mirror filter", {{"ifindex", std::to_string(ifindex)}, {"error", errnoText(rc)}});
      }
    }
  }

  // Deletes a clsact qdisc tapflow made once no filter is left on either hook.
  void removeQdiscIfEmpty(int ifindex, const std::string& name) {
    bool ours = false, others = false;
    if (!inspectHooks(ifindex, ours, others) || ours || others) return;
    bpf_tc_hook hook = tcHook(ifindex, bpf_tc_attach_point(BPF_TC_INGRESS | BPF_TC_EGRESS));
    int rc = bpf_tc_hook_destroy(&hook);
    if (rc != 0 && rc != -ENOENT && rc != -ENODEV && rc != -EINVAL) {
      stats.detach_failures.add();
      logWarn("cannot remove the clsact qdisc tapflow added", {{"interface", name}, {"error", errnoText(rc)}});
    }
  }

  void detach(int ifindex, const Attached& a) {
    detachFilters(ifindex);
    if (a.created_qdisc) removeQdiscIfEmpty(ifindex, a.name);
    logInfo("stopped mirroring", {{"interface", a.name}, {"veth", veth}});
  }

  // Returns 0 or the negative errno of the step that failed.
  int attach(const LinkInfo& link, bool& created_qdisc) {
    bpf_tc_hook both = tcHook(link.ifindex, bpf_tc_attach_point(BPF_TC_INGRESS | BPF_TC_EGRESS));
    int rc = bpf_tc_hook_create(&both);
    created_qdisc = rc == 0;
    if (rc == -EEXIST) {
      // A clsact holding nothing but tapflow's filter was left by a tapflow
      // that was killed: treat it as tapflow's, so it goes when tapflow does.
      bool ours = false, others = false;
      created_qdisc = inspectHooks(link.ifindex, ours, others) && ours && !others;
    } else if (rc != 0) {
      return rc;
    }
    for (bpf_tc_attach_point point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
      bpf_tc_hook hook = tcHook(link.ifindex, point);
      // REPLACE: a leftover at tapflow's handle and priority is overwritten.
      bpf_tc_opts opts = tcOpts(handle, kMirrorFilterPriority, mirror_fd, BPF_TC_F_REPLACE);
      rc = bpf_tc_attach(&hook, &opts);
      if (rc != 0) {
        detachFilters(link.ifindex);
        if (created_qdisc) removeQdiscIfEmpty(link.ifindex, link.name);
        return rc;
      }
    }
    return 0;
  }

  // Whether tapflow's filters are still on both hooks.
  bool stillAttached(int ifindex) {
    for (bpf_tc_attach_point point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
      bpf_tc_hook hook = tcHook(ifindex, point);
      bpf_tc_opts opts = tcOpts(handle, kMirrorFilterPriority);
      if (bpf_tc_query(&hook, &opts) != 0) return false;
    }
    return true;
  }

  // Puts tapflow's filters back if someone removed them. false: they cannot
  // be, and the interface moved to `failed` (retried at each rescan).
  bool keepAttached(const LinkInfo& link, Attached& a) {
    if (stillAttached(link.ifindex)) return true;
    bool created = false;
    int rc = attach(link, created);
    if (rc == 0) {
      a.created_qdisc = a.created_qdisc || created;
      stats.reattached.add();
      logWarn("mirror filters had been removed; attached again", {{"interface", a.name}});
      return true;
    }
    logWarn("mirror filters were removed and cannot be put back", {{"interface", a.name}, {"error", errnoText(rc)}});
    failed[link.ifindex] = a.name;
    stats.attach_failures.add();
    return false;
  }

  void tryAttach(const LinkInfo& link, bool at_start) {
    bool created = false;
    int rc = attach(link, created);
    if (rc == 0) {
      attached[link.ifindex] = Attached{link.name, created};
      failed.erase(link.ifindex);
      stats.attached.add();
      logInfo("mirroring", {{"interface", link.name}, {"veth", veth}, {"created_clsact", created ? "yes" : "no"}});
      return;
    }
    if (rc == -ENODEV) return;  // gone between the listing and now
    if (at_start && (rc == -EPERM || rc == -EACCES)) {
      throw CaptureSetupError("CAP_NET_ADMIN is needed to attach tc filters to " + link.name + " (" +
                              errnoText(rc) + ")");
    }
    if (failed.count(link.ifindex) != 0) return;  // still refused: said so already
    failed[link.ifindex] = link.name;
    stats.attach_failures.add();
    logWarn("cannot mirror interface; retrying at each rescan", {{"interface", link.name}, {"error", errnoText(rc)}});
  }

  // Filters a killed tapflow left on interfaces this run does not mirror.
  // Following targets, nothing is attached yet: every interface is swept.
  void sweepLeftovers(const std::vector<LinkInfo>& links) {
    for (const LinkInfo& link : links) {
      if ((!following && mirrorSelects(config.interfaces, link.name, veth)) || link.name == veth ||
          link.name == capture_name) {
        continue;
      }
      bool ours = false, others = false;
      if (!inspectHooks(link.ifindex, ours, others) || !ours) continue;
      detachFilters(link.ifindex);
      if (!others) removeQdiscIfEmpty(link.ifindex, link.name);
      logInfo("removed leftover mirror filters", {{"interface", link.name}});
    }
  }

  void rescan(bool at_start) {
    std::vector<LinkInfo> links;
    int rc = nl.listLinks(links);
    if (rc != 0) {
      if (at_start) fail("cannot list interfaces", rc);
      logWarn("mirror rescan: cannot list interfaces", {{"error", netlinkErrorText(nl, rc)}});
      return;
    }
    std::map<int, const LinkInfo*> by_index;
    for (const LinkInfo& l : links) by_index[l.ifindex] = &l;
    for (auto it = failed.begin(); it != failed.end();) {
      it = by_index.count(it->first) == 0 ? failed.erase(it) : std::next(it);
    }

    for (auto it = attached.begin(); it != attached.end();) {
      auto found = by_index.find(it->first);
      if (found == by_index.end()) {
        // The interface is gone and its qdisc and filters with it.
        stats.vanished.add();
        logInfo("mirrored interface disappeared", {{"interface", it->second.name}});
        it = attached.erase(it);
        continue;
      }
      if (!mirrorSelects(config.interfaces, found->second->name, veth)) {
        stats.vanished.add();
        detach(it->first, it->second);
        it = attached.erase(it);
        continue;
      }
      it->second.name = found->second->name;
      if (!keepAttached(*found->second, it->second)) {
        it = attached.erase(it);
        continue;
      }
      ++it;
    }
    for (const LinkInfo& l : links) {
      if (attached.count(l.ifindex) == 0 && mirrorSelects(config.interfaces, l.name, veth)) tryAttach(l, at_start);
    }
    mirrored.store(attached.size());
  }

  // The targets choose: the interfaces their addresses route through. Route
  // lookups every time (one request per address); the links are listed and
  // the filters changed only when a route moved, or at a rescan (`full`),
  // which also puts back filters someone removed and retries refused ones.
  void followTargets(const std::vector<MirrorTargetAddress>& addresses, bool full) {
    std::vector<TargetRoute> routes;
    routes.reserve(addresses.size());
    for (const MirrorTargetAddress& a : addresses) {
      RouteInfo route;
      int rc = nl.getRoute(a.addr.bytes, a.version, route);
      routes.push_back(targetRoute(rc, route));
    }
    if (!full && routes_current && routes == last_routes) return;  // nothing moved

    std::vector<LinkInfo> links;
    int rc = nl.listLinks(links);
    if (rc != 0) {
      routes_current = false;  // try again at the next look
      logWarn("mirror: cannot list interfaces", {{"error", netlinkErrorText(nl, rc)}});
      return;
    }
    last_routes = routes;
    routes_current = true;
    const TargetInterfaceChoice choice = chooseTargetInterfaces(routes, links, config.interfaces, veth);
    addresses_routed.store(choice.routed);
    addresses_local.store(choice.local);
    addresses_unroutable.store(choice.unroutable);
    addresses_excluded.store(choice.excluded);
    reportUnmirrored(addresses, routes, links);

    std::map<int, const LinkInfo*> by_index;
    for (const LinkInfo& l : links) by_index[l.ifindex] = &l;
    for (auto it = failed.begin(); it != failed.end();) {
      it = by_index.count(it->first) == 0 || choice.interfaces.count(it->first) == 0 ? failed.erase(it)
                                                                                       : std::next(it);
    }
    std::vector<int> current, wanted;
    for (const auto& [ifindex, a] : attached) current.push_back(ifindex);
    for (const auto& [ifindex, name] : choice.interfaces) wanted.push_back(ifindex);
    const MirrorChanges changes = mirrorChanges(current, wanted);

    for (int ifindex : changes.detach) {
      Attached& a = attached[ifindex];
      if (by_index.count(ifindex) == 0) {
        // The pod's veth went with the pod, and tapflow's filters with it.
        stats.vanished.add();
        logInfo("mirrored interface disappeared", {{"interface", a.name}});
      } else {
        stats.detached.add();
        detach(ifindex, a);
      }
      attached.erase(ifindex);
    }
    if (full) {
      for (auto it = attached.begin(); it != attached.end();) {
        const LinkInfo& link = *by_index.at(it->first);
        it->second.name = link.name;
        it = keepAttached(link, it->second) ? std::next(it) : attached.erase(it);
      }
    }
    for (int ifindex : changes.attach) {
      if (failed.count(ifindex) != 0 && !full) continue;  // refused before: retried at the rescan
      tryAttach(*by_index.at(ifindex), false);
    }
    mirrored.store(attached.size());
  }

  // Says once per address why a targeted pod is not mirrored through an interface of its own.
  void reportUnmirrored(const std::vector<MirrorTargetAddress>& addresses, const std::vector<TargetRoute>& routes,
                        const std::vector<LinkInfo>& links) {
    std::set<std::string> now;
    for (size_t i = 0; i < addresses.size(); ++i) {
      const TargetInterfaceChoice one = chooseTargetInterfaces({routes[i]}, links, config.interfaces, veth);
      std::string why;
      if (one.unroutable != 0) {
        why = "no route to it on this node (none, or only through a gateway)";
      } else if (one.excluded != 0) {
        why = "its route's interface is tapflow's pair or not in capture.mirror.interfaces";
      } else if (one.local != 0) {
        why = "it is an address of the node (a host-network pod): mirrored only through the interfaces "
              "capture.mirror.interfaces names";
      }
      if (why.empty()) continue;
      const std::string key = addressText(addresses[i]) + " " + why;
      now.insert(key);
      if (reported_addresses.count(key) == 0) {
        logWarn("mirror: a targeted address has no pod interface to mirror",
                {{"address", addressText(addresses[i])}, {"reason", why}});
      }
    }
    reported_addresses = std::move(now);
  }

  // The targets went away (a reload removed them): capture.mirror.interfaces
  // decides again, and what only the targets wanted is detached at once.
  void stopFollowing() {
    for (auto it = attached.begin(); it != attached.end();) {
      if (mirrorSelects(config.interfaces, it->second.name, veth)) {
        ++it;
        continue;
      }
      stats.detached.add();
      detach(it->first, it->second);
      it = attached.erase(it);
    }
    failed.clear();
    routes_current = false;
    reported_addresses.clear();
    addresses_routed.store(0);
    addresses_local.store(0);
    addresses_unroutable.store(0);
    addresses_excluded.store(0);
    if (config.interfaces.empty()) {
      logWarn("mirror mode without targets and without capture.mirror.interfaces: nothing is mirrored");
    }
  }

  void update(const MirrorTargets& want, bool full) {
    if (want.active != following) {
      logInfo(want.active ? "mirror: the targets choose the interfaces to mirror"
                          : "mirror: capture.mirror.interfaces chooses the interfaces to mirror",
              {{"veth", veth}});
    }
    if (want.active) {
      if (!following) routes_current = false;  // the attached set was the patterns'
      following = true;
      followTargets(want.addresses, full);
    } else {
      if (following) {
        following = false;
        stopFollowing();
        full = true;
      }
      if (full) rescan(false);
    }
    following_now.store(following);
    mirrored.store(attached.size());
  }

  void loop() {
    using Clock = std::chrono::steady_clock;
    const auto rescan_every = std::chrono::nanoseconds(std::max<Duration>(config.rescan_interval, 1'000'000));
    auto next_rescan = Clock::now() + rescan_every;
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      const auto until = following ? std::min(next_rescan, Clock::now() + kRouteRecheck) : next_rescan;
      wake.wait_until(lock, until, [this] { return stopping || targets_dirty; });
      if (stopping) break;
      targets_dirty = false;
      const MirrorTargets want = requested;
      lock.unlock();
      const bool full = Clock::now() >= next_rescan;
      if (full) next_rescan = Clock::now() + rescan_every;
      update(want, full);
      lock.lock();
    }
  }
};

Mirror::Mirror(const MirrorConfig& config, uint32_t mtu, bool follow_targets)
    : impl_(std::make_unique<Impl>(config)) {
  Impl& m = *impl_;
  m.following = follow_targets;
  m.following_now.store(follow_targets);
  m.requested.active = follow_targets;
  if (config.veth_name.empty() || config.veth_name.size() + 1 >= IFNAMSIZ) {
    throw CaptureSetupError("capture.mirror.veth_name must have 1 to " + std::to_string(IFNAMSIZ - 2) +
                            " characters (the captured end adds \"c\")");
  }
  if (config.interfaces.empty() && !follow_targets) {
    throw CaptureSetupError("capture.mirror.interfaces names no interface to mirror");
  }

  std::vector<LinkInfo> links;
  int rc = m.nl.listLinks(links);
  if (rc != 0) m.fail("cannot list interfaces", rc);
  for (const std::string& name : config.interfaces) {
    if (name == m.veth || name == m.capture_name) {
      throw CaptureSetupError("capture.mirror.interfaces: " + name + " is tapflow's own veth pair");
    }
    bool exists = std::any_of(links.begin(), links.end(), [&](const LinkInfo& l) { return l.name == name; });
    if (!isPattern(name) && !exists) {
      throw CaptureSetupError("interface " + name + " (capture.mirror.interfaces) does not exist");
    }
  }

  m.removeLeftoverPair();
  m.createPair(mtu);
  m.loadPrograms();
  m.attachSink();
  if ((rc = m.nl.listLinks(links)) != 0) m.fail("cannot list interfaces", rc);
  m.sweepLeftovers(links);
  if (follow_targets) {
    std::string allowed;
    for (const std::string& p : config.interfaces) allowed += (allowed.empty() ? "" : ",") + p;
    logInfo("mirror mode: the targets choose the interfaces to mirror",
            {{"veth", m.veth}, {"allowed", allowed.empty() ? "any" : allowed}});
  } else {
    m.rescan(true);
    if (m.attached.empty()) {
      logWarn("mirror mode: no interface matches yet; rescanning",
              {{"rescan_interval_ms", std::to_string(config.rescan_interval / 1'000'000)}});
    }
  }
  m.thread = std::thread([&m] {
    pthread_setname_np(pthread_self(), "tf-mirror");
    m.loop();
  });
}

Mirror::~Mirror() = default;

const std::string& Mirror::captureInterface() const { return impl_->capture_name; }
size_t Mirror::mirroredInterfaces() const { return impl_->mirrored.load(); }
bool Mirror::followingTargets() const { return impl_->following_now.load(); }

void Mirror::setTargets(const MirrorTargets& targets) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->requested == targets) return;
    impl_->requested = targets;
    impl_->targets_dirty = true;
  }
  impl_->wake.notify_all();
}
const MirrorStats& Mirror::stats() const { return impl_->stats; }

void Mirror::collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const {
  MetricLabels l = labels;
  l.emplace_back("veth", impl_->veth);
  metrics.gauge("tapflow_mirror_interfaces", "Interfaces whose traffic is cloned into tapflow's veth pair", l,
                double(impl_->mirrored.load()));
  metrics.gauge("tapflow_mirror_following_targets",
                "1 when the targets choose the mirrored interfaces, 0 when capture.mirror.interfaces does", l,
                impl_->following_now.load() ? 1.0 : 0.0);
  const std::pair<const char*, const std::atomic<size_t>*> routes[] = {
      {"interface", &impl_->addresses_routed},
      {"local", &impl_->addresses_local},
      {"unroutable", &impl_->addresses_unroutable},
      {"excluded", &impl_->addresses_excluded}};
  for (const auto& [route, count] : routes) {
    MetricLabels rl = l;
    rl.emplace_back("route", route);
    metrics.gauge("tapflow_mirror_target_addresses", "Targeted pod addresses on this node, by the node's route to them",
                  rl, double(count->load()));
  }
  metrics.stats("mirror", impl_->stats, l);
  // Clones the pair could not pass on (the captured end's backlog was full):
  // veth counts them as transmit drops of the sending end.
  std::ifstream dropped("/sys/class/net/" + impl_->veth + "/statistics/tx_dropped");
  uint64_t veth_dropped = 0;
  if (dropped >> veth_dropped) {
    metrics.counter("tapflow_mirror_veth_dropped_total",
                    "Clones the veth pair dropped before they reached its captured end", l, veth_dropped);
  }

  // The tc program's per-CPU counters, summed.
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0 || impl_->stats_fd < 0) return;
  std::vector<tapflow_mirror_count> values(static_cast<size_t>(cpus));
  const char* names[] = {
#define TAPFLOW_MIRROR_ACTION_NAME(suffix, name) #name,
      TAPFLOW_MIRROR_ACTIONS(TAPFLOW_MIRROR_ACTION_NAME)
#undef TAPFLOW_MIRROR_ACTION_NAME
  };
  for (uint32_t action = 0; action < TAPFLOW_MIRROR_ACTION_COUNT; ++action) {
    if (bpf_map_lookup_elem(impl_->stats_fd, &action, values.data()) != 0) continue;
    uint64_t packets = 0, bytes = 0;
    for (const auto& v : values) {
      packets += v.packets;
      bytes += v.bytes;
    }
    MetricLabels al = l;
    al.emplace_back("action", names[action]);
    metrics.counter("tapflow_mirror_program_packets_total", "Packets the tc mirror program handled, by action", al,
                    packets);
    metrics.counter("tapflow_mirror_program_bytes_total", "Bytes the tc mirror program handled, by action", al,
                    bytes);
  }
}

std::vector<std::unique_ptr<PacketSource>> makeMirrorSources(const CaptureConfig& config, bool follow_targets) {
  const std::string& how = config.mirror.capture;
  if (how != "afpacket" && how != "afxdp") {
    throw CaptureSetupError("capture.mirror.capture must be afxdp or afpacket, not \"" + how + "\"");
  }
  // No interfaces configured: only targets can have let the config through.
  follow_targets = follow_targets || config.mirror.interfaces.empty();
  auto mirror = std::make_shared<Mirror>(config.mirror, how == "afpacket" ? kAfPacketVethMtu : 0, follow_targets);
  CaptureConfig far_end = config;
  far_end.interfaces = {mirror->captureInterface()};
  far_end.queues.clear();  // the veth's one queue; capture.queues is about dedicated NICs
  std::vector<std::unique_ptr<PacketSource>> inner =
      how == "afpacket" ? makeAfPacketSources(far_end) : makeAfXdpSources(far_end);
  std::vector<std::unique_ptr<PacketSource>> sources;
  for (size_t i = 0; i < inner.size(); ++i) {
    sources.push_back(std::make_unique<MirrorCaptureSource>(mirror, std::move(inner[i]), i == 0));
  }
  return sources;
}

size_t updateMirrorTargets(const std::vector<std::unique_ptr<PacketSource>>& sources, const MirrorTargets& targets) {
  std::set<Mirror*> done;
  for (const auto& source : sources) {
    auto* mirrored = dynamic_cast<MirrorCaptureSource*>(source.get());
    if (mirrored == nullptr || !done.insert(&mirrored->mirror()).second) continue;
    mirrored->mirror().setTargets(targets);
  }
  return done.size();
}

}  // namespace tapflow
