#include "capture/rtnetlink.h"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tapflow {
namespace {

constexpr size_t kReceiveBuffer = 1 << 16;  // larger than any dump message the kernel builds

size_t align4(size_t n) { return (n + 3) & ~size_t(3); }

// Builds one request: header, fixed family header, attributes (nestable).
class Request {
 public:
  Request(uint16_t type, uint16_t flags) {
    buf_.resize(NLMSG_HDRLEN);
    auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
  }

  template <typename T>
  void header(const T& fixed) {
    append(&fixed, sizeof(fixed));
  }

  void attr(uint16_t type, const void* data, size_t len) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = uint16_t(RTA_LENGTH(len));
    append(&a, sizeof(a));
    append(data, len);
  }
  void attrU32(uint16_t type, uint32_t v) { attr(type, &v, sizeof(v)); }
  void attrU8(uint16_t type, uint8_t v) { attr(type, &v, sizeof(v)); }
  void attrString(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }

  size_t beginNested(uint16_t type) {
    size_t at = buf_.size();
    rtattr a{};
    a.rta_type = type;
    append(&a, sizeof(a));
    return at;
  }
  void endNested(size_t at) {
    auto* a = reinterpret_cast<rtattr*>(buf_.data() + at);
    a->rta_len = uint16_t(buf_.size() - at);
  }

  std::vector<uint8_t>& finish() {
    reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_len = uint32_t(buf_.size());
    return buf_;
  }

 private:
  // Every piece starts 4-byte aligned, as NLMSG_ALIGN and RTA_ALIGN require.
  void append(const void* data, size_t len) {
    size_t at = buf_.size();
    buf_.resize(align4(at + len));
    std::memcpy(buf_.data() + at, data, len);
  }

  std::vector<uint8_t> buf_;
};

// Calls fn(type, data, len) for each attribute in [p, p + len), stopping at
// the first one whose length does not fit (kernel input is trusted, but a
// bounds mistake here would read past the buffer).
template <typename Fn>
void forEachAttr(const uint8_t* p, size_t len, Fn&& fn) {
  size_t off = 0;
  while (off + sizeof(rtattr) <= len) {
    rtattr a;
    std::memcpy(&a, p + off, sizeof(a));
    if (a.rta_len < sizeof(rtattr) || off + a.rta_len > len) return;
    fn(uint16_t(a.rta_type & NLA_TYPE_MASK), p + off + RTA_LENGTH(0), size_t(a.rta_len - RTA_LENGTH(0)));
    off += align4(a.rta_len);
  }
}

uint32_t readU32(const uint8_t* data, size_t len) {
  uint32_t v = 0;
  if (len >= sizeof(v)) std::memcpy(&v, data, sizeof(v));
  return v;
}

std::string readString(const uint8_t* data, size_t len) {
  return std::string(reinterpret_cast<const char*>(data), strnlen(reinterpret_cast<const char*>(data), len));
}

bool parseLink(const nlmsghdr* h, LinkInfo& out) {
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return false;
  ifinfomsg ifi;
  std::memcpy(&ifi, NLMSG_DATA(h), sizeof(ifi));
  out = LinkInfo{};
  out.ifindex = ifi.ifi_index;
  out.flags = ifi.ifi_flags;
  const auto* attrs = static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(ifinfomsg));
  size_t len = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(ifinfomsg)));
  forEachAttr(attrs, len, [&](uint16_t type, const uint8_t* data, size_t n) {
    switch (type) {
      case IFLA_IFNAME: out.name = readString(data, n); break;
      case IFLA_LINK: out.link = int(readU32(data, n)); break;
      case IFLA_MTU: out.mtu = readU32(data, n); break;
      case IFLA_LINKINFO:
        forEachAttr(data, n, [&](uint16_t t, const uint8_t* d, size_t m) {
          if (t == IFLA_INFO_KIND) out.kind = readString(d, m);
        });
        break;
      default: break;
    }
  });
  return true;
}

}  // namespace

Rtnetlink::Rtnetlink() : buffer_(kReceiveBuffer) {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "rtnetlink socket");
  int one = 1;
  // Error messages from the kernel ("Exclusivity flag on, cannot modify filter"),
  // and acks without a copy of the request.
  setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    int err = errno;
    close(fd_);
    throw std::system_error(err, std::generic_category(), "rtnetlink bind");
  }
  socklen_t len = sizeof(local);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len);
  port_id_ = local.nl_pid;
}

Rtnetlink::~Rtnetlink() {
  if (fd_ >= 0) close(fd_);
}

template <typename Fn>
int Rtnetlink::transact(std::vector<uint8_t>& request, Fn&& on_message) {
  last_error_.clear();
  auto* req = reinterpret_cast<nlmsghdr*>(request.data());
  req->nlmsg_seq = ++seq_;
  req->nlmsg_pid = 0;
  const bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd_, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return -errno;

  for (;;) {
    ssize_t n = recv(fd_, buffer_.data(), buffer_.size(), MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (size_t(n) > buffer_.size()) return -EMSGSIZE;
    size_t remaining = size_t(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buffer_.data()); NLMSG_OK(h, remaining);
         h = NLMSG_NEXT(h, remaining)) {
      if (h->nlmsg_seq != seq_ || h->nlmsg_pid != port_id_) continue;  // a stale answer
      if (h->nlmsg_type == NLMSG_DONE) {
        int status = 0;
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) std::memcpy(&status, NLMSG_DATA(h), sizeof(int));
        return status < 0 ? status : 0;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return -EBADMSG;
        nlmsgerr err;
        std::memcpy(&err, NLMSG_DATA(h), sizeof(err));
        if ((h->nlmsg_flags & NLM_F_ACK_TLVS) != 0) {
          // With NETLINK_CAP_ACK the TLVs follow the request's header only.
          size_t tlv_off = NLMSG_HDRLEN + sizeof(nlmsgerr);
          if ((h->nlmsg_flags & NLM_F_CAPPED) == 0) tlv_off += err.msg.nlmsg_len - NLMSG_HDRLEN;
          if (tlv_off < h->nlmsg_len) {
            forEachAttr(reinterpret_cast<const uint8_t*>(h) + tlv_off, h->nlmsg_len - tlv_off,
                        [&](uint16_t type, const uint8_t* data, size_t len) {
                          if (type == NLMSGERR_ATTR_MSG) last_error_ = readString(data, len);
                        });
          }
        }
        if (err.error != 0 || !dump) return err.error;
        continue;
      }
      on_message(h);
    }
  }
}

int Rtnetlink::transact(std::vector<uint8_t>& request) {
  return transact(request, [](const nlmsghdr*) {});
}

int Rtnetlink::listLinks(std::vector<LinkInfo>& out) {
  out.clear();
  Request r(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  r.header(ifi);
  r.attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return transact(r.finish(), [&](const nlmsghdr* h) {
    LinkInfo link;
    if (parseLink(h, link)) out.push_back(std::move(link));
  });
}

int Rtnetlink::getLink(const std::string& name, LinkInfo& out) {
  if (name.empty() || name.size() >= IFNAMSIZ) return -ENODEV;
  Request r(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  r.header(ifi);
  r.attrString(IFLA_IFNAME, name);
  r.attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  bool found = false;
  int rc = transact(r.finish(), [&](const nlmsghdr* h) { found = parseLink(h, out) || found; });
  if (rc != 0) return rc;
  return found ? 0 : -ENODEV;
}

int Rtnetlink::createVethPair(const std::string& name, const std::string& peer, uint32_t mtu, uint32_t queues) {
  Request r(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  r.header(ifi);
  r.attrString(IFLA_IFNAME, name);
  if (mtu != 0) r.attrU32(IFLA_MTU, mtu);
  if (queues != 0) {
    r.attrU32(IFLA_NUM_TX_QUEUES, queues);
    r.attrU32(IFLA_NUM_RX_QUEUES, queues);
  }
  size_t linkinfo = r.beginNested(IFLA_LINKINFO);
  r.attrString(IFLA_INFO_KIND, "veth");
  size_t data = r.beginNested(IFLA_INFO_DATA);
  size_t peer_info = r.beginNested(VETH_INFO_PEER);
  r.header(ifi);  // the peer's own ifinfomsg comes first inside VETH_INFO_PEER
  r.attrString(IFLA_IFNAME, peer);
  if (mtu != 0) r.attrU32(IFLA_MTU, mtu);
  if (queues != 0) {
    r.attrU32(IFLA_NUM_TX_QUEUES, queues);
    r.attrU32(IFLA_NUM_RX_QUEUES, queues);
  }
  r.endNested(peer_info);
  r.endNested(data);
  r.endNested(linkinfo);
  return transact(r.finish());
}

int Rtnetlink::deleteLink(int ifindex) {
  Request r(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  r.header(ifi);
  return transact(r.finish());
}

int Rtnetlink::setLinkFlags(int ifindex, uint32_t flags, uint32_t mask) {
  Request r(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  ifi.ifi_flags = flags;
  ifi.ifi_change = mask;
  r.header(ifi);
  return transact(r.finish());
}

int Rtnetlink::setIpv6AddrGenModeNone(int ifindex) {
  Request r(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  r.header(ifi);
  size_t spec = r.beginNested(IFLA_AF_SPEC);
  size_t inet6 = r.beginNested(AF_INET6);
  r.attrU8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  r.endNested(inet6);
  r.endNested(spec);
  return transact(r.finish());
}

int Rtnetlink::getRoute(const uint8_t (&address)[16], uint8_t version, RouteInfo& out) {
  if (version != 4 && version != 6) return -EAFNOSUPPORT;
  const size_t length = version == 4 ? 4 : 16;
  Request r(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK);
  rtmsg rt{};
  rt.rtm_family = version == 4 ? AF_INET : AF_INET6;
  rt.rtm_dst_len = uint8_t(length * 8);
  r.header(rt);
  r.attr(RTA_DST, address, length);
  bool found = false;
  int rc = transact(r.finish(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return;
    rtmsg answer;
    std::memcpy(&answer, NLMSG_DATA(h), sizeof(answer));
    out = RouteInfo{};
    out.type = answer.rtm_type;
    const auto* attrs = static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(rtmsg));
    size_t len = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(rtmsg)));
    forEachAttr(attrs, len, [&](uint16_t type, const uint8_t* data, size_t n) {
      if (type == RTA_OIF) out.oif = int(readU32(data, n));
      if (type == RTA_GATEWAY || type == RTA_VIA) out.gateway = true;
    });
    found = true;
  });
  if (rc != 0) return rc;
  return found ? 0 : -ENETUNREACH;
}

int Rtnetlink::listFilters(int ifindex, uint32_t parent, std::vector<TcFilterInfo>& out) {
  out.clear();
  Request r(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP);
  tcmsg tc{};
  tc.tcm_family = AF_UNSPEC;
  tc.tcm_ifindex = ifindex;
  tc.tcm_parent = parent;
  r.header(tc);
  return transact(r.finish(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWTFILTER || h->nlmsg_len < NLMSG_LENGTH(sizeof(tcmsg))) return;
    tcmsg t;
    std::memcpy(&t, NLMSG_DATA(h), sizeof(t));
    TcFilterInfo f;
    f.priority = TC_H_MAJ(t.tcm_info) >> 16;
    f.protocol = ntohs(uint16_t(TC_H_MIN(t.tcm_info)));
    f.handle = t.tcm_handle;
    const auto* attrs = static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(tcmsg));
    size_t len = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(tcmsg)));
    forEachAttr(attrs, len, [&](uint16_t type, const uint8_t* data, size_t n) {
      if (type == TCA_KIND) f.kind = readString(data, n);
      if (type == TCA_CHAIN) f.chain = readU32(data, n);
      if (type == TCA_OPTIONS && f.kind == "bpf") {  // TCA_KIND comes first
        forEachAttr(data, n, [&](uint16_t t2, const uint8_t* d, size_t m) {
          if (t2 == TCA_BPF_NAME) f.bpf_name = readString(d, m);
        });
      }
    });
    out.push_back(std::move(f));
  });
}

std::string netlinkErrorText(const Rtnetlink& nl, int err) {
  std::string text = std::strerror(-err);
  if (!nl.lastError().empty()) text = nl.lastError() + " (" + text + ")";
  return text;
}

}  // namespace tapflow
