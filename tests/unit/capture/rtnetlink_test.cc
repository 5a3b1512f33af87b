#include "capture/rtnetlink.h"

#include <doctest/doctest.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

using namespace tapflow;

// Reading links and filters needs no privilege: these run anywhere.
TEST_CASE("rtnetlink lists the loopback interface and finds it by name") {
  Rtnetlink nl;
  std::vector<LinkInfo> links;
  REQUIRE(nl.listLinks(links) == 0);
  auto lo = std::find_if(links.begin(), links.end(), [](const LinkInfo& l) { return l.name == "lo"; });
  REQUIRE(lo != links.end());
  CHECK((lo->flags & IFF_LOOPBACK) != 0);
  CHECK(lo->kind.empty());
  LinkInfo one;
  REQUIRE(nl.getLink("lo", one) == 0);
  CHECK(one.ifindex == lo->ifindex);
  CHECK(one.name == "lo");
  CHECK(one.mtu == lo->mtu);
}

TEST_CASE("rtnetlink reports a missing link as ENODEV") {
  Rtnetlink nl;
  LinkInfo link;
  CHECK(nl.getLink("tfnosuch0", link) == -ENODEV);
  CHECK(nl.getLink("", link) == -ENODEV);
  CHECK(nl.getLink("a-name-longer-than-ifnamsiz", link) == -ENODEV);
}

TEST_CASE("rtnetlink lists no filters on a hook without a clsact qdisc") {
  Rtnetlink nl;
  LinkInfo lo;
  REQUIRE(nl.getLink("lo", lo) == 0);
  std::vector<TcFilterInfo> filters{TcFilterInfo{}};
  // Loopback in the test's namespace has no clsact unless someone added one.
  int rc = nl.listFilters(lo.ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), filters);
  CHECK(rc == 0);
  CHECK(std::none_of(filters.begin(), filters.end(),
                     [](const TcFilterInfo& f) { return f.bpf_name.rfind("tapflow_mirror", 0) == 0; }));
}

TEST_CASE("a route lookup of the node's own addresses answers local, through loopback") {
  Rtnetlink nl;
  LinkInfo lo;
  REQUIRE(nl.getLink("lo", lo) == 0);
  uint8_t v4[16] = {127, 0, 0, 1};
  RouteInfo route;
  REQUIRE(nl.getRoute(v4, 4, route) == 0);
  CHECK(route.type == RTN_LOCAL);
  CHECK(route.oif == lo.ifindex);
  // Any 127/8 address is the node's, as `ip route get 127.1.2.3` says.
  uint8_t other[16] = {127, 1, 2, 3};
  route = RouteInfo{};
  REQUIRE(nl.getRoute(other, 4, route) == 0);
  CHECK(route.type == RTN_LOCAL);
  CHECK(route.oif == lo.ifindex);
}

TEST_CASE("a route lookup of ::1 answers local when IPv6 is on, and a bad family is refused") {
  Rtnetlink nl;
  LinkInfo lo;
  REQUIRE(nl.getLink("lo", lo) == 0);
  uint8_t v6[16] = {};
  v6[15] = 1;
  RouteInfo route;
  int rc = nl.getRoute(v6, 6, route);
  if (access("/proc/net/if_inet6", F_OK) == 0) {
    REQUIRE(rc == 0);
    CHECK(route.type == RTN_LOCAL);
    CHECK(route.oif == lo.ifindex);
  }
  CHECK(nl.getRoute(v6, 5, route) == -EAFNOSUPPORT);
}
