// A small rtnetlink client for mirror mode: list and query links, create and
// delete tapflow's veth pair, set link flags, list a hook's tc filters, and
// ask which interface the node sends an address out of (`ip route get`).
// Control-thread only; every call is one request and its answer, errors are
// returned as negative errno with the kernel's extended-ack text when it gives one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tapflow {

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  std::string kind;   // IFLA_INFO_KIND: "veth", "bridge", ... ("" for physical NICs, loopback)
  int link = 0;       // IFLA_LINK: a veth's peer ifindex (0 when absent or in another namespace)
  uint32_t flags = 0; // IFF_*
  uint32_t mtu = 0;
};

// The answer to a route lookup (RTM_GETROUTE), as `ip route get ADDR` shows it.
struct RouteInfo {
  int oif = 0;       // RTA_OIF: the interface the node sends the address out of
  uint8_t type = 0;  // RTN_UNICAST, RTN_LOCAL (an address of this node: oif is loopback), ...
  bool gateway = false;  // RTA_GATEWAY or RTA_VIA: the address is reached through a router
};

// One entry of a tc filter dump (RTM_GETTFILTER) on one hook.
struct TcFilterInfo {
  uint32_t priority = 0;  // tc "pref"
  uint32_t handle = 0;    // 0 for the per-priority header entry the kernel dumps first
  uint32_t chain = 0;
  uint16_t protocol = 0;  // host byte order (ETH_P_ALL is 3)
  std::string kind;       // "bpf", "u32", ...
  std::string bpf_name;   // TCA_BPF_NAME for kind bpf, e.g. "tapflow_mirror:[42]"
};

class Rtnetlink {
 public:
  // Opens the socket; throws std::system_error when the kernel refuses.
  Rtnetlink();
  ~Rtnetlink();
  Rtnetlink(const Rtnetlink&) = delete;
  Rtnetlink& operator=(const Rtnetlink&) = delete;

  // All links of this network namespace.
  int listLinks(std::vector<LinkInfo>& out);
  // -ENODEV when there is no such link.
  int getLink(const std::string& name, LinkInfo& out);

  // A veth pair `name` <-> `peer`, both down, with this MTU and number of
  // TX and RX queues per end (0: the kernel's defaults).
  int createVethPair(const std::string& name, const std::string& peer, uint32_t mtu, uint32_t queues);
  int deleteLink(int ifindex);
  // Sets the IFF_* bits in `mask` to their value in `flags` (IFF_UP, IFF_NOARP...).
  int setLinkFlags(int ifindex, uint32_t flags, uint32_t mask);
  // No IPv6 link-local address, hence no DAD, router or MLD chatter from it.
  int setIpv6AddrGenModeNone(int ifindex);

  // The route the node would take to `address` (`version` 4: its first 4
  // bytes, 6: all 16). -ENETUNREACH (or another negative errno) when there is none.
  int getRoute(const uint8_t (&address)[16], uint8_t version, RouteInfo& out);

  // Filters on one hook; parent is TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS or _EGRESS).
  int listFilters(int ifindex, uint32_t parent, std::vector<TcFilterInfo>& out);

  // The kernel's extended-ack message of the last failed request, if any.
  const std::string& lastError() const { return last_error_; }

 private:
  // Sends `request` (a complete nlmsghdr) and reads until the ack or the end
  // of the dump, passing every data message to `on_message` when given.
  template <typename Fn>
  int transact(std::vector<uint8_t>& request, Fn&& on_message);
  int transact(std::vector<uint8_t>& request);

  int fd_ = -1;
  uint32_t seq_ = 0;
  uint32_t port_id_ = 0;
  std::vector<uint8_t> buffer_;
  std::string last_error_;
};

// "message (errno text)" for a negative errno from Rtnetlink, with the
// kernel's extended-ack text when there was one.
std::string netlinkErrorText(const Rtnetlink& nl, int err);

}  // namespace tapflow
