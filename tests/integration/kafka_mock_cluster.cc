// A Kafka cluster for the integration tests: librdkafka's mock brokers
// (rdkafka_mock.h) in a process of their own on 127.0.0.1, so a test can take
// them down and bring them back while tapflow produces to them. There is no
// real broker on the test machines; this is the cluster test_kafka.py uses.
//
//   kafka_mock_cluster [--brokers N] [--topics A,B,...] [--partitions N]
//
// Prints the bootstrap servers ("127.0.0.1:P1,127.0.0.1:P2,...") as the first
// line of stdout, then reads one command per line from stdin and answers each
// with "ok" (or "error: ..."):
//   down       all brokers refuse connections (and drop the ones they have)
//   up         all brokers accept connections again
//   down ID    broker ID (1..N) only; likewise "up ID"
//   quit       exit (as does the end of stdin)
// Topics are created on first use by the mock's auto-creation, with its
// default partition count; --topics creates them up front instead, with
// --partitions partitions each (default 4), replicated on every broker.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "driver_text.h"

namespace {

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "kafka_mock_cluster: " << problem
            << "\nusage: kafka_mock_cluster [--brokers N] [--topics A,B,...] [--partitions N]\n";
  std::exit(1);
}

int positive(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  long n = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < 1 || n > 1000) usage(flag + " needs a number from 1 to 1000");
  return int(n);
}

// One command line -> the answer to print.
std::string runCommand(rd_kafka_mock_cluster_t* cluster, int brokers, const std::string& line) {
  std::stringstream in(line);
  std::string verb, id_text, extra;
  in >> verb >> id_text >> extra;
  if (verb != "down" && verb != "up") return "error: unknown command '" + verb + "'";
  if (!extra.empty()) return "error: too many arguments";
  int32_t id = -1;  // all brokers
  if (!id_text.empty()) {
    char* end = nullptr;
    long n = std::strtol(id_text.c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > brokers) return "error: no broker " + id_text;
    id = int32_t(n);
  }
  rd_kafka_resp_err_t err = verb == "down" ? rd_kafka_mock_broker_set_down(cluster, id)
                                           : rd_kafka_mock_broker_set_up(cluster, id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::string("error: ") + rd_kafka_err2str(err);
  return "ok";
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  int partitions = 4;
  std::vector<std::string> topics;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) usage("unknown argument or missing value: " + arg);
    std::string value = argv[++i];
    if (arg == "--brokers") {
      brokers = positive(arg, value);
    } else if (arg == "--partitions") {
      partitions = positive(arg, value);
    } else if (arg == "--topics") {
      topics = splitList(value);
    } else {
      usage("unknown argument " + arg);
    }
  }

  // The mock cluster lives inside an rd_kafka_t that does nothing else; its
  // own log lines (connection errors while brokers are down) go to stderr.
  char error[512] = {};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // log_level 4: not the notice that this client has no bootstrap.servers (it needs none).
  if (rd_kafka_conf_set(conf, "client.id", "kafka_mock_cluster", error, sizeof error) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "4", error, sizeof error) != RD_KAFKA_CONF_OK) {
    std::cerr << "kafka_mock_cluster: " << error << "\n";
    return 2;
  }
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (handle == nullptr) {
    std::cerr << "kafka_mock_cluster: cannot create the client that hosts the cluster: " << error << "\n";
    return 2;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, brokers);
  if (cluster == nullptr) {
    std::cerr << "kafka_mock_cluster: cannot create a mock cluster of " << brokers << " brokers\n";
    rd_kafka_destroy(handle);
    return 2;
  }
  for (const auto& topic : topics) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, brokers);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "kafka_mock_cluster: cannot create topic " << topic << ": " << rd_kafka_err2str(err) << "\n";
      rd_kafka_mock_cluster_destroy(cluster);
      rd_kafka_destroy(handle);
      return 2;
    }
  }

  std::cout << rd_kafka_mock_cluster_bootstraps(cluster) << std::endl;  // endl: the test waits for this line
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    if (line == "quit") break;
    std::cout << runCommand(cluster, brokers, line) << std::endl;
  }

  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(handle);
  return 0;
}
