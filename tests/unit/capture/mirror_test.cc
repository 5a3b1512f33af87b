#include "capture/mirror.h"

#include <doctest/doctest.h>

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
