// Mirror mode: both directions of the node's own interfaces are cloned by a tc
// BPF program into a tapflow-owned veth pair, whose far end is captured; the
// node's traffic itself goes on untouched. Which interfaces: the configured
// names and patterns, or, with `targets`, the ones the node routes the targeted
// pods' addresses through (their host-side veths), kept in step as pods come
// and go.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "capture/packet_source.h"
#include "capture/rtnetlink.h"
#include "ops/counter.h"
#include "ops/metrics.h"
#include "packet/decoded_packet.h"

namespace tapflow {

// Written by the mirror's control thread (and its constructor and destructor).
#define TF_MIRROR_STATS(C)                                                                              \
  C(attached, "Interfaces the mirror filters were attached to (ingress and egress)")                  \
  C(attach_failures, "Interfaces the mirror filters could not be attached to (see the log for why)")   \
  C(reattached, "Interfaces whose tapflow filters had been removed by someone else and were put back") \
  C(vanished, "Mirrored interfaces that disappeared (deleted, or renamed out of the selection)")       \
  C(detached, "Interfaces no longer mirrored because the targets stopped needing them (filters removed at once)") \
  C(detach_failures, "tapflow filters or qdiscs that could not be removed")

struct MirrorStats {
  TF_MIRROR_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_MIRROR_STATS(TF_VISIT_COUNTER)
  }
};

// tc filter priority ("pref") of tapflow's filters: 1 runs before the filters
// a CNI adds later, so the clone shows the packet as it was on the wire.
constexpr uint32_t kMirrorFilterPriority = 1;
// tc filter handle of tapflow's filters, derived from the veth name: the same
// tapflow finds its leftovers after a crash, two tapflows with different veth
// pairs do not replace each other's filters.
uint32_t mirrorFilterHandle(const std::string& veth_name);

// Whether interface `name` is mirrored: it equals one of `patterns` or matches
// it as a shell pattern (fnmatch), and is not tapflow's own pair.
bool mirrorSelects(const std::vector<std::string>& patterns, const std::string& name, const std::string& veth_name);

// A targeted pod's address (IPv4 in the first 4 bytes).
struct MirrorTargetAddress {
  IpAddress addr{};
  uint8_t version = 0;  // 4 or 6

  bool operator==(const MirrorTargetAddress& o) const { return version == o.version && addr == o.addr; }
};

// What the targets ask of the mirror (sent by the target keeper).
struct MirrorTargets {
  // Targets are configured: the interfaces the node routes `addresses`
  // through are mirrored, restricted to capture.mirror.interfaces when that
  // is not empty. false: capture.mirror.interfaces alone decides, as without
  // Kubernetes.
  bool active = false;
  std::vector<MirrorTargetAddress> addresses;  // the targeted pods' addresses on this node

  bool operator==(const MirrorTargets& o) const { return active == o.active && addresses == o.addresses; }
};

// The node's route to one targeted address, as the mirror uses it.
struct TargetRoute {
  enum Kind : uint8_t {
    kNone,       // no route, one through a gateway (not on this node), or the lookup failed
    kInterface,  // sent out of `oif`: a pod's host-side veth, or a bridge
    kLocal,      // an address of the node itself: a host-network pod
  };
  Kind kind = kNone;
  int oif = 0;

  bool operator==(const TargetRoute& o) const { return kind == o.kind && oif == o.oif; }
};

// Classifies a route lookup's result (Rtnetlink::getRoute's rc and answer).
TargetRoute targetRoute(int rc, const RouteInfo& route);

// The interfaces to mirror for the targets' routes, by ifindex, and how many
// addresses went which way.
struct TargetInterfaceChoice {
  std::map<int, std::string> interfaces;  // ifindex -> name
  size_t routed = 0;      // through an interface that is mirrored
  size_t local = 0;       // the node's own address (host network), or routed through loopback
  size_t unroutable = 0;  // no route, or its interface is gone
  size_t excluded = 0;    // through tapflow's own pair, or an interface capture.mirror.interfaces leaves out
};

// Targets mode's selection. `allowed` is capture.mirror.interfaces: empty,
// any interface but loopback and tapflow's pair; else only those it selects.
// Host-network pods have no interface of their own: when any target is
// local, the interfaces `allowed` names exactly (not by a pattern) are
// mirrored for them, so listing the uplink (eth0) captures them there.
TargetInterfaceChoice chooseTargetInterfaces(const std::vector<TargetRoute>& routes,
                                             const std::vector<LinkInfo>& links,
                                             const std::vector<std::string>& allowed, const std::string& veth_name);

// What to change to go from the mirrored ifindexes `current` to `wanted`
// (both sorted, as a std::map's keys are).
struct MirrorChanges {
  std::vector<int> attach;  // wanted, not mirrored yet
  std::vector<int> detach;  // mirrored, not wanted any more
};
MirrorChanges mirrorChanges(const std::vector<int>& current, const std::vector<int>& wanted);

class Mirror {
 public:
  // Replaces a leftover pair and filters of a crashed run, creates the veth
  // pair (MTU `mtu`, 0: the kernel default) and starts the control thread.
  // Without `follow_targets`, attaches to every selected interface at once;
  // with it, nothing is mirrored until setTargets names addresses (and
  // config.interfaces may be empty). Throws CaptureSetupError naming what is
  // missing (CAP_NET_ADMIN, CAP_BPF, veth support, an interface).
  Mirror(const MirrorConfig& config, uint32_t mtu, bool follow_targets = false);
  // Stops the rescan thread, detaches exactly tapflow's filters, removes the
  // clsact qdiscs tapflow created where nothing else remains, deletes the pair.
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // The veth end the clones arrive at: capture this one ("<veth_name>c").
  const std::string& captureInterface() const;
  // Interfaces currently mirrored.
  size_t mirroredInterfaces() const;
  // Hands the targets to the control thread, which applies them at once if
  // they changed (route lookups, filters attached and detached) and looks
  // the routes up again every 200 ms while targets are active. Cheap when
  // nothing changed; any thread.
  void setTargets(const MirrorTargets& targets);
  // Whether the targets choose the mirrored interfaces now.
  bool followingTargets() const;
  const MirrorStats& stats() const;
  // Gauge of mirrored interfaces, the stats above and the tc program's own
  // per-CPU counters. Called from the metrics thread.
  void collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds the mirror and the sources that capture its veth's far end:
// config.mirror.capture "afpacket" (AF_PACKET, config.afpacket settings) or
// "afxdp" (AF_XDP, config.afxdp settings). Each source keeps the mirror alive.
// `follow_targets` (the config has targets; implied when
// config.mirror.interfaces is empty): see Mirror's constructor.
std::vector<std::unique_ptr<PacketSource>> makeMirrorSources(const CaptureConfig& config, bool follow_targets = false);

// Passes `targets` to the mirror behind `sources` (built by
// makeMirrorSources); returns how many mirrors got them (0: not mirror mode).
size_t updateMirrorTargets(const std::vector<std::unique_ptr<PacketSource>>& sources, const MirrorTargets& targets);

}  // namespace tapflow
