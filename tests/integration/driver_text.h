// Text helpers the integration tests' driver programs share (afxdp_driver,
// kafka_mock_cluster, k8s_watch_driver): their arguments and stdin commands
// are short lists.
#pragma once

#include <sstream>
#include <string>
#include <vector>

// "a,b,,c" -> {"a", "b", "c"}: empty items dropped.
inline std::vector<std::string> splitList(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}
