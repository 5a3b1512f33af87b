// Mirror mode without a kernel: which interfaces are selected (patterns, or
// the targeted pods' routes), the filter handle, the set changes applied, and
// the errors refused before anything is touched.
#include "capture/mirror.h"

#include <doctest/doctest.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <map>
#include <set>

using namespace tapflow;

TEST_CASE("mirror selection takes exact names and shell patterns, never tapflow's own pair") {
  std::vector<std::string> patterns{"eth0", "cali*", "lxc[ab]?", "tapflow*"};
  CHECK(mirrorSelects(patterns, "eth0", "tapflow0"));
  CHECK_FALSE(mirrorSelects(patterns, "eth01", "tapflow0"));
  CHECK_FALSE(mirrorSelects(patterns, "eth", "tapflow0"));
  CHECK(mirrorSelects(patterns, "cali1234abcd", "tapflow0"));
  CHECK(mirrorSelects(patterns, "cali", "tapflow0"));
  CHECK(mirrorSelects(patterns, "lxca1", "tapflow0"));
  CHECK_FALSE(mirrorSelects(patterns, "lxcc1", "tapflow0"));
  CHECK_FALSE(mirrorSelects(patterns, "lxca12", "tapflow0"));
  CHECK_FALSE(mirrorSelects(patterns, "veth0", "tapflow0"));
  // "tapflow*" matches them, but the pair itself is never mirrored into itself.
  CHECK_FALSE(mirrorSelects(patterns, "tapflow0", "tapflow0"));
  CHECK_FALSE(mirrorSelects(patterns, "tapflow0c", "tapflow0"));
  CHECK(mirrorSelects(patterns, "tapflow1", "tapflow0"));
}

TEST_CASE("the mirror filter handle is stable per veth name and differs between names") {
  CHECK(mirrorFilterHandle("tapflow0") == mirrorFilterHandle("tapflow0"));
  std::set<uint32_t> handles;
  for (const char* name : {"tapflow0", "tapflow1", "tfm0", "mirror"}) {
    uint32_t h = mirrorFilterHandle(name);
    CHECK((h >> 24) == 0x7f);
    handles.insert(h);
  }
  CHECK(handles.size() == 4);
}

TEST_CASE("a mirror refuses a bad veth name, no interfaces or a missing exact interface before touching anything") {
  MirrorConfig c;
  c.interfaces = {"lo"};
  c.veth_name = "fifteen-chars-x";
  CHECK_THROWS_WITH_AS(Mirror(c, 0), doctest::Contains("capture.mirror.veth_name"), CaptureSetupError);
  c.veth_name = "tapflow0";
  c.interfaces.clear();
  CHECK_THROWS_WITH_AS(Mirror(c, 0), doctest::Contains("capture.mirror.interfaces"), CaptureSetupError);
  c.interfaces = {"tfnosuch0", "cali*"};
  CHECK_THROWS_WITH_AS(Mirror(c, 0), doctest::Contains("interface tfnosuch0"), CaptureSetupError);
  c.interfaces = {"tapflow0c"};
  CHECK_THROWS_WITH_AS(Mirror(c, 0), doctest::Contains("tapflow's own veth pair"), CaptureSetupError);
}

TEST_CASE("mirror sources refuse an unknown way of capturing the veth") {
  CaptureConfig c;
  c.source = "mirror";
  c.mirror.interfaces = {"lo"};
  c.mirror.capture = "pcap";
  CHECK_THROWS_WITH_AS(makeMirrorSources(c), doctest::Contains("capture.mirror.capture"), CaptureSetupError);
}

// -- targets mode: the interfaces the node routes the targeted pods' addresses through --

namespace {

LinkInfo makeLink(int ifindex, const char* name, uint32_t flags = IFF_UP) {
  LinkInfo l;
  l.ifindex = ifindex;
  l.name = name;
  l.flags = flags;
  return l;
}

TargetRoute via(int oif) { return TargetRoute{TargetRoute::kInterface, oif}; }

// A Calico-like node: loopback, the uplink, three pod veths, a bridge, tapflow's pair.
const std::vector<LinkInfo> kLinks{makeLink(1, "lo", IFF_UP | IFF_LOOPBACK), makeLink(2, "eth0"),
                                   makeLink(7, "cali1a"), makeLink(8, "cali2b"), makeLink(9, "lxc9"),
                                   makeLink(10, "cni0"), makeLink(20, "tapflow0"), makeLink(21, "tapflow0c")};

std::map<int, std::string> names(std::initializer_list<std::pair<const int, std::string>> l) { return l; }

}  // namespace

TEST_CASE("a route lookup's answer becomes an interface, the node itself, or nothing") {
  RouteInfo r;
  r.type = RTN_UNICAST;
  r.oif = 7;
  CHECK(targetRoute(0, r) == via(7));
  r.type = RTN_LOCAL;
  r.oif = 1;
  CHECK(targetRoute(0, r) == TargetRoute{TargetRoute::kLocal, 1});
  // Through a gateway: not a pod of this node (the default route while a pod's
  // own route is missing), never a reason to mirror the uplink.
  r.type = RTN_UNICAST;
  r.oif = 2;
  r.gateway = true;
  CHECK(targetRoute(0, r).kind == TargetRoute::kNone);
  r.gateway = false;
  r.type = RTN_BLACKHOLE;
  r.oif = 0;
  CHECK(targetRoute(0, r).kind == TargetRoute::kNone);
  r.type = RTN_UNICAST;
  CHECK(targetRoute(0, r).kind == TargetRoute::kNone);  // unicast without an interface
  r.oif = 7;
  CHECK(targetRoute(-ENETUNREACH, r).kind == TargetRoute::kNone);
}

TEST_CASE("targets mirror the interfaces their routes go out of, each once, any but loopback and tapflow's pair") {
  const TargetInterfaceChoice c =
      chooseTargetInterfaces({via(7), via(8), via(8), via(10), via(1), via(20), via(21)}, kLinks, {}, "tapflow0");
  CHECK(c.interfaces == names({{7, "cali1a"}, {8, "cali2b"}, {10, "cni0"}}));
  CHECK(c.routed == 4);
  CHECK(c.local == 1);  // routed through loopback: the node's own
  CHECK(c.excluded == 2);
  CHECK(c.unroutable == 0);
}

TEST_CASE("capture.mirror.interfaces restricts which routed interfaces targets may mirror") {
  const std::vector<TargetRoute> routes{via(7), via(8), via(9), via(10), via(2)};
  TargetInterfaceChoice c = chooseTargetInterfaces(routes, kLinks, {"cali*"}, "tapflow0");
  CHECK(c.interfaces == names({{7, "cali1a"}, {8, "cali2b"}}));
  CHECK(c.routed == 2);
  CHECK(c.excluded == 3);
  c = chooseTargetInterfaces(routes, kLinks, {"lxc*", "cni0"}, "tapflow0");
  CHECK(c.interfaces == names({{9, "lxc9"}, {10, "cni0"}}));
  CHECK(c.excluded == 3);
  // A pattern matching tapflow's own pair still never selects it.
  c = chooseTargetInterfaces({via(20), via(21)}, kLinks, {"tapflow*"}, "tapflow0");
  CHECK(c.interfaces.empty());
  CHECK(c.excluded == 2);
}

TEST_CASE("no route, or a route through an interface that is gone, mirrors nothing") {
  const TargetInterfaceChoice c = chooseTargetInterfaces({TargetRoute{}, via(99), via(7)}, kLinks, {}, "tapflow0");
  CHECK(c.interfaces == names({{7, "cali1a"}}));
  CHECK(c.unroutable == 2);
  CHECK(c.routed == 1);
}

TEST_CASE("host-network pods are mirrored only through the interfaces capture.mirror.interfaces names exactly") {
  const TargetRoute local{TargetRoute::kLocal, 1};
  // Any interface allowed: nothing is named, so a host-network pod adds no interface.
  TargetInterfaceChoice c = chooseTargetInterfaces({local}, kLinks, {}, "tapflow0");
  CHECK(c.interfaces.empty());
  CHECK(c.local == 1);
  // Patterns are for pod interfaces: they do not pull in every cali* for it.
  c = chooseTargetInterfaces({local}, kLinks, {"cali*", "e*"}, "tapflow0");
  CHECK(c.interfaces.empty());
  // The uplink named: the host-network pod is captured there, next to the pods' veths.
  c = chooseTargetInterfaces({local, via(7)}, kLinks, {"eth0", "cali*", "lo", "tapflow0c"}, "tapflow0");
  CHECK(c.interfaces == names({{2, "eth0"}, {7, "cali1a"}}));
  CHECK(c.local == 1);
  CHECK(c.routed == 1);
  // Without a local target, a named uplink is only a restriction, not a choice.
  c = chooseTargetInterfaces({via(7)}, kLinks, {"eth0", "cali*"}, "tapflow0");
  CHECK(c.interfaces == names({{7, "cali1a"}}));
}

TEST_CASE("mirror changes attach what is newly wanted and detach what no longer is") {
  MirrorChanges c = mirrorChanges({3, 5, 7}, {5, 7, 9, 11});
  CHECK(c.attach == std::vector<int>{9, 11});
  CHECK(c.detach == std::vector<int>{3});
  c = mirrorChanges({3, 5}, {3, 5});
  CHECK(c.attach.empty());
  CHECK(c.detach.empty());
  c = mirrorChanges({}, {4});
  CHECK(c.attach == std::vector<int>{4});
  c = mirrorChanges({4, 6}, {});
  CHECK(c.detach == std::vector<int>{4, 6});
  CHECK(c.attach.empty());
}

TEST_CASE("updateMirrorTargets finds no mirror among sources that are not mirror mode") {
  std::vector<std::unique_ptr<PacketSource>> none;
  MirrorTargets t;
  t.active = true;
  CHECK(updateMirrorTargets(none, t) == 0);
}
