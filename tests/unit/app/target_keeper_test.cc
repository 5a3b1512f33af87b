// Targets as the XDP program sees them: the targeted pods' addresses and the
// union of their ports, nothing at all when no pod matches; and the config's
// targets section.
#include <doctest/doctest.h>

#include "app/config.h"
#include "app/target_keeper.h"

using namespace tapflow;

namespace {

TargetedPod pod(std::vector<const char*> ips, std::vector<uint16_t> ports, bool all_ports = false) {
  TargetedPod p;
  for (const char* a : ips) p.ips.push_back(*parseKubeIp(a));
  p.ports = std::move(ports);
  p.all_ports = all_ports;
  return p;
}

std::string errorOf(const std::string& yaml) {
  try {
    loadConfigString(yaml, "bad.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the targeted pods' addresses and the union of their ports become the XDP target set") {
  CaptureFilterConfig base;
  base.protocols = {"tcp"};
  const CaptureFilterConfig f =
      targetFilter({pod({"10.244.1.5", "fd00::5"}, {80}), pod({"10.244.1.6"}, {443, 80})}, base);
  CHECK(f.cidrs == std::vector<std::string>{"10.244.1.5/32", "10.244.1.6/32", "fd00::5/128"});
  CHECK(f.ports == std::vector<uint32_t>{80, 443});
  CHECK(f.protocols == std::vector<std::string>{"tcp"});
  // One pod wanted on every port: no port restriction at all.
  CHECK(targetFilter({pod({"10.244.1.5"}, {80}), pod({"10.244.1.6"}, {}, true)}, base).ports.empty());
}

TEST_CASE("with no pod targeted, the target set matches no packet rather than every packet") {
  CaptureFilterConfig base;
  base.protocols = {"udp"};
  const CaptureFilterConfig f = targetFilter({}, base);
  CHECK(f.match_nothing);
  CHECK(f.cidrs.empty());
  CHECK(f.ports.empty());
  CHECK(f.protocols == std::vector<std::string>{"udp"});
  // A pod without an address yet (starting) targets nothing either.
  CHECK(targetFilter({pod({}, {80})}, CaptureFilterConfig{}).match_nothing);
  CHECK_FALSE(targetFilter({pod({"10.244.1.5"}, {80})}, CaptureFilterConfig{}).match_nothing);
}

TEST_CASE("targets are read with text or structured selectors and need kubernetes and XDP capture") {
  const Config c = loadConfigString(R"yaml(capture:
  source: afxdp
  interfaces: [eth0]
kubernetes: {enabled: true}
targets:
  - namespaces: [shop]
    selector: "app=web,tier in (front, api)"
    ports: [80, 443]
  - selector:
      matchLabels: {app: sip}
      matchExpressions: [{key: env, operator: NotIn, values: [dev]}]
)yaml",
                                    "t.yaml");
  REQUIRE(c.targets.size() == 2);
  CHECK(c.targets[0].namespaces == std::vector<std::string>{"shop"});
  CHECK(c.targets[0].selector.matches({{"app", "web"}, {"tier", "api"}}));
  CHECK_FALSE(c.targets[0].selector.matches({{"app", "web"}, {"tier", "db"}}));
  CHECK(c.targets[0].ports == std::vector<uint16_t>{80, 443});
  CHECK(c.targets[1].selector.matches({{"app", "sip"}}));
  CHECK_FALSE(c.targets[1].selector.matches({{"app", "sip"}, {"env", "dev"}}));

  CHECK(errorOf("capture: {source: afxdp, interfaces: [eth0]}\ntargets:\n  - selector: app=web\n") ==
        "bad.yaml:3:3: targets: need kubernetes.enabled: true, which resolves them to pods");
  CHECK(errorOf("capture: {source: afpacket, interfaces: [eth0]}\nkubernetes: {enabled: true}\n"
                "targets:\n  - selector: app=web\n") ==
        "bad.yaml:4:3: targets: apply through the XDP program: capture.source afxdp, or mirror with mirror.capture "
        "afxdp (not afpacket)");
  CHECK(errorOf("kubernetes: {enabled: true}\ntargets:\n  - selector: \"app in web\"\n")
            .find("bad.yaml:3:15: targets[0].selector: not a label selector: at offset") == 0);
}

TEST_CASE("the mirror is told the targeted pods' addresses, sorted and once each, and whether targets are set") {
  const MirrorTargets t = mirrorTargets({pod({"10.77.0.12", "fd00:77::12"}, {80}), pod({}, {80}),
                                         pod({"10.77.0.11"}, {}, true), pod({"10.77.0.12"}, {443})},
                                        true);
  CHECK(t.active);
  REQUIRE(t.addresses.size() == 3);
  CHECK(t.addresses[0] == MirrorTargetAddress{parseKubeIp("10.77.0.11")->addr, 4});
  CHECK(t.addresses[1] == MirrorTargetAddress{parseKubeIp("10.77.0.12")->addr, 4});
  CHECK(t.addresses[2] == MirrorTargetAddress{parseKubeIp("fd00:77::12")->addr, 6});
  // Targets set but no pod (or none with an address): the mirror mirrors nothing.
  const MirrorTargets none = mirrorTargets({pod({}, {80})}, true);
  CHECK(none.active);
  CHECK(none.addresses.empty());
  // No targets: capture.mirror.interfaces decides again.
  CHECK_FALSE(mirrorTargets({}, false).active);
}

TEST_CASE("mirror mode with targets needs no capture.mirror.interfaces to run; without targets it does") {
  const std::string base = "capture:\n  source: mirror\nkubernetes: {enabled: true}\n";
  const Config c = loadConfigString(base + "targets:\n  - selector: app=web\n", "t.yaml", ConfigUse::kRun);
  CHECK(c.capture.mirror.interfaces.empty());
  CHECK(c.targets.size() == 1);
  // Given with targets, the list stays: it restricts which interfaces the targets may choose.
  CHECK(loadConfigString("capture:\n  source: mirror\n  mirror:\n    interfaces: [\"cali*\"]\n"
                         "kubernetes: {enabled: true}\ntargets:\n  - selector: app=web\n",
                         "t.yaml", ConfigUse::kRun)
            .capture.mirror.interfaces == std::vector<std::string>{"cali*"});
  CHECK(errorOf(base) == "");  // kCheck: run -i can give them
  try {
    loadConfigString(base, "t.yaml", ConfigUse::kRun);
    FAIL("mirror without interfaces or targets loaded for a run");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "t.yaml:2:11: capture.mirror.interfaces: required when capture.source is mirror without targets: list the "
          "interfaces or patterns to mirror, such as [eth0, \"cali*\"], or give targets");
  }
  // Targets still need the XDP program: a mirror read with AF_PACKET cannot apply them.
  CHECK(errorOf("capture:\n  source: mirror\n  mirror:\n    capture: afpacket\nkubernetes: {enabled: true}\n"
                "targets:\n  - selector: app=web\n") ==
        "bad.yaml:7:3: targets: apply through the XDP program: capture.source afxdp, or mirror with mirror.capture "
        "afxdp (not mirror)");
}
