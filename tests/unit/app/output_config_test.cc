// The outputs section for Kafka and HEP, secrets, and -o URLs: every key read,
// every mistake refused at its line with what to write instead, and secrets
// that never appear in an error.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "app/config.h"

using namespace tapflow;

namespace {

std::string errorOf(const std::string& yaml) {
  try {
    loadConfigString(yaml, "bad.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string commandLineError(const std::string& arg) {
  try {
    outputFromCommandLine(arg);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every kafka output key is read into its field") {
  const Config c = loadConfigString(R"(outputs:
  - type: kafka
    brokers: [kafka-0:9092, "10.0.0.5:9093"]
    topic_prefix: prod.
    topics: {flow: netflows, sip_call: calls}
    properties: {compression.type: lz4, message.timeout.ms: 5000, enable.idempotence: true}
    secret_properties: {sasl.password: {env: KAFKA_PASSWORD}}
    queue_full: block
    block_timeout: 250ms
    queue_messages: 5000
    shutdown_grace: 30s
    stats_interval: 0s
    queue_events: 1024
)",
                                    "/etc/tapflow/t.yaml");
  REQUIRE(c.outputs.size() == 1);
  const OutputConfig& o = c.outputs[0];
  CHECK(o.type == "kafka");
  CHECK(o.name() == "kafka:kafka-0:9092,10.0.0.5:9093/prod.");
  CHECK(o.queue_events == 1024);
  const KafkaOutputConfig& k = o.kafka;
  CHECK(k.brokers == std::vector<std::string>{"kafka-0:9092", "10.0.0.5:9093"});
  CHECK(k.topic_prefix == "prod.");
  CHECK(k.topics == std::array<std::string, kEventTypeCount>{"netflows", "http", "sip", "calls", "dns", "tls", "stats"});
  CHECK(k.properties == std::vector<std::pair<std::string, std::string>>{
                            {"compression.type", "lz4"}, {"message.timeout.ms", "5000"}, {"enable.idempotence", "true"}});
  REQUIRE(k.secret_properties.size() == 1);
  CHECK(k.secret_properties[0].first == "sasl.password");
  CHECK(k.secret_properties[0].second.env == "KAFKA_PASSWORD");
  CHECK(k.secret_properties[0].second.value == "");  // read by resolveSecrets, for a run only
  CHECK(k.block_when_full);
  CHECK(k.block_timeout == 250'000'000);
  CHECK(k.queue_messages == 5000);
  CHECK(k.shutdown_grace == 30'000'000'000);
  CHECK(k.stats_interval == 0);
}

TEST_CASE("a kafka output takes its brokers as a list or a comma-separated string, with defaults elsewhere") {
  const Config c = loadConfigString("outputs:\n  - type: kafka\n    brokers: \"a:9092,b:9092\"\n", "t.yaml");
  const KafkaOutputConfig& k = c.outputs[0].kafka;
  CHECK(k.brokers == std::vector<std::string>{"a:9092", "b:9092"});
  CHECK(k.topic_prefix == "");
  CHECK(k.topics == std::array<std::string, kEventTypeCount>{"flows", "http", "sip", "sip", "dns", "tls", "stats"});
  CHECK_FALSE(k.block_when_full);
  CHECK(k.queue_messages == 100000);
  CHECK(k.stats_interval == 10'000'000'000);
}

TEST_CASE("kafka output mistakes are refused at their line") {
  CHECK(errorOf("outputs:\n  - type: kafka\n") == "bad.yaml:2:5: outputs[0]: a kafka output needs brokers: [HOST:PORT, ...]");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [kafka]\n") ==
        "bad.yaml:3:15: outputs[0].brokers[0]: broker must be HOST:PORT (IPv6 as [::1]:9108), got \"kafka\"");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:0]\n") ==
        "bad.yaml:3:15: outputs[0].brokers[0]: broker port 0 is not a port a server listens on");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    properties: {no.such.property: 1}\n") ==
        "bad.yaml:4:36: outputs[0].properties.no.such.property: librdkafka refuses it: No such configuration "
        "property: \"no.such.property\"");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    properties: {acks: maybe}\n") ==
        "bad.yaml:4:24: outputs[0].properties.acks: librdkafka refuses it: Invalid value for configuration "
        "property \"request.required.acks\"");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    properties: {bootstrap.servers: x:1}\n") ==
        "bad.yaml:4:37: outputs[0].properties.bootstrap.servers: set the output's brokers instead");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    topics: {flows: f}\n") ==
        "bad.yaml:4:14: outputs[0].topics.flows: unknown key; did you mean flow?");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    topics: {flow: \"a b\"}\n") ==
        "bad.yaml:4:20: outputs[0].topics.flow: is not a Kafka topic name (letters, digits, '.', '_', '-'; at "
        "most 249 with the prefix)");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    queue_full: wait\n") ==
        "bad.yaml:4:17: outputs[0].queue_full: must be one of drop, block, got wait");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    stats_interval: 100ms\n") ==
        "bad.yaml:4:21: outputs[0].stats_interval: must be 0s (no stats) or at least 1s");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    path: x\n") ==
        "bad.yaml:4:5: outputs[0].path: unknown key; expected one of type, brokers, topic_prefix, topics, "
        "properties, secret_properties, queue_full, block_timeout, queue_messages, shutdown_grace, "
        "stats_interval, queue_events");
}

TEST_CASE("a secret written inline is refused, and where to put it is said, without echoing it") {
  const std::string inline_password =
      errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    properties: {sasl.password: hunter2}\n");
  CHECK(inline_password ==
        "bad.yaml:4:18: outputs[0].properties.sasl.password: is a secret: move it to secret_properties as "
        "{file: PATH} or {env: VARIABLE}");
  const std::string inline_secret =
      errorOf("outputs:\n  - type: kafka\n    brokers: [k:9092]\n    secret_properties: {sasl.password: hunter2}\n");
  CHECK(inline_secret ==
        "bad.yaml:4:40: outputs[0].secret_properties.sasl.password: a secret is read from a file or an environment "
        "variable, never written here: use {file: /run/secrets/NAME} or {env: VARIABLE}");
  const std::string inline_key = errorOf("outputs:\n  - type: hep\n    destinations: [hep+tls://h:9061]\n    auth_key: hunter2\n");
  CHECK(inline_key.find("hunter2") == std::string::npos);
  CHECK(inline_key.find("outputs[0].auth_key: a secret is read from a file") != std::string::npos);
  CHECK(errorOf("outputs:\n  - type: hep\n    destinations: [hep+tls://h:9061]\n    auth_key: {file: a, env: B}\n") ==
        "bad.yaml:4:30: outputs[0].auth_key.env: give file or env, not both");
}

TEST_CASE("secrets are read for a run from files and environment variables, and their errors hold no value") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "tapflow-secret-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "password") << "canary-file-secret\n";
  setenv("TAPFLOW_TEST_HEP_KEY", "canary-env-secret", 1);
  Config c = loadConfigString("outputs:\n  - type: kafka\n    brokers: [k:9092]\n"
                              "    secret_properties: {sasl.password: {file: password}}\n"
                              "  - type: hep\n    destinations: [hep+tcp://h:9061]\n"
                              "    auth_key: {env: TAPFLOW_TEST_HEP_KEY}\n",
                              (dir / "t.yaml").string());
  resolveSecrets(c);
  CHECK(c.outputs[0].kafka.secret_properties[0].second.value == "canary-file-secret");  // newline trimmed
  CHECK(c.outputs[1].hep.has_auth_key);
  CHECK(c.outputs[1].hep.auth_key.value == "canary-env-secret");

  unsetenv("TAPFLOW_TEST_HEP_KEY");
  Config missing = loadConfigString("outputs:\n  - type: hep\n    destinations: [hep+tcp://h:9061]\n"
                                    "    auth_key: {env: TAPFLOW_TEST_HEP_KEY}\n",
                                    "t.yaml");
  CHECK_THROWS_WITH_AS(resolveSecrets(missing),
                       "t.yaml:4:15: outputs[0].auth_key: environment variable TAPFLOW_TEST_HEP_KEY is not set",
                       ConfigError);
  Config unreadable = loadConfigString("outputs:\n  - type: kafka\n    brokers: [k:9092]\n"
                                       "    secret_properties: {sasl.password: {file: /nonexistent/pw}}\n",
                                       "t.yaml");
  CHECK_THROWS_WITH_AS(resolveSecrets(unreadable),
                       "t.yaml:4:40: outputs[0].secret_properties.sasl.password: cannot read /nonexistent/pw: No "
                       "such file or directory",
                       ConfigError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("every hep output key is read into its field") {
  const Config c = loadConfigString(R"(outputs:
  - type: hep
    destinations: ["hep://10.0.0.1:9060", "hep+tcp://homer:9061", "hep+tls://[fd00::1]:9062"]
    agent_id: 2001
    auth_key: {file: /run/secrets/hep}
    allow_auth_key_over_udp: true
    node_name: node-a
    buffer_bytes: 1MiB
    reconnect_min: 50ms
    reconnect_max: 2s
    tls: {ca_file: ca.pem, verify: false, server_name: homer.example}
    shutdown_grace: 1s
)",
                                    "/etc/tapflow/t.yaml");
  const OutputConfig& o = c.outputs[0];
  CHECK(o.name() == "hep:hep://10.0.0.1:9060,hep+tcp://homer:9061,hep+tls://[fd00::1]:9062");
  const HepOutputConfig& h = o.hep;
  REQUIRE(h.destinations.size() == 3);
  CHECK(h.destinations[0].transport == "udp");
  CHECK(h.destinations[0].host == "10.0.0.1");
  CHECK(h.destinations[0].port == 9060);
  CHECK(h.destinations[1].transport == "tcp");
  CHECK(h.destinations[2].transport == "tls");
  CHECK(h.destinations[2].host == "fd00::1");
  CHECK(h.agent_id == 2001);
  CHECK(h.has_auth_key);
  CHECK(h.auth_key.file == "/run/secrets/hep");
  CHECK(h.allow_auth_key_over_udp);
  CHECK(h.node_name == "node-a");
  CHECK(h.buffer_bytes == 1u << 20);
  CHECK(h.reconnect_min == 50'000'000);
  CHECK(h.reconnect_max == 2'000'000'000);
  CHECK(h.tls_ca_file == "/etc/tapflow/ca.pem");
  CHECK_FALSE(h.tls_verify);
  CHECK(h.tls_server_name == "homer.example");
  CHECK(h.shutdown_grace == 1'000'000'000);
}

TEST_CASE("hep output mistakes are refused at their line") {
  CHECK(errorOf("outputs:\n  - type: hep\n    destinations: [udp://h:9060]\n") ==
        "bad.yaml:3:20: outputs[0].destinations[0]: expected hep://HOST:PORT (UDP), hep+tcp://HOST:PORT or "
        "hep+tls://HOST:PORT, got \"udp://h:9060\"");
  CHECK(errorOf("outputs:\n  - type: hep\n    destinations: [hep://h:9060, hep://h:9060]\n") ==
        "bad.yaml:3:34: outputs[0].destinations[1]: hep://h:9060 is already listed at outputs[0].destinations[0]");
  CHECK(errorOf("outputs:\n  - type: hep\n    destinations: [hep://h:9060]\n    auth_key: {env: K}\n") ==
        "bad.yaml:4:15: outputs[0].auth_key: would travel in clear text to h:9060 over UDP: use hep+tls://, or set "
        "allow_auth_key_over_udp: true to accept that");
  CHECK(errorOf("outputs:\n  - type: hep\n    destinations: [hep+tcp://h:9060]\n    reconnect_min: 2s\n"
                "    reconnect_max: 1s\n") ==
        "bad.yaml:5:20: outputs[0].reconnect_max: reconnect_max (1s) must be at least reconnect_min (2s)");
  CHECK(errorOf("analyzers:\n  sip:\n    user_privacy: hash\noutputs:\n  - type: hep\n    destinations: [hep://h:9060]\n") ==
        "bad.yaml:3:19: analyzers.sip.user_privacy: hash and drop cannot apply to outputs[0], a hep output: it "
        "forwards whole SIP messages, which name the users. Use keep, or remove the hep output");
  CHECK(errorOf("analyzers:\n  sip:\n    enabled: false\noutputs:\n  - type: hep\n    destinations: [hep://h:9060]\n") ==
        "bad.yaml:3:14: analyzers.sip.enabled: is false, but outputs[0] is a hep output, which forwards what the SIP "
        "analyzer reads");
}

TEST_CASE("outputs named on the command line") {
  const OutputConfig kafka = outputFromCommandLine("kafka://a:9092,b:9093/tapflow.");
  CHECK(kafka.type == "kafka");
  CHECK(kafka.kafka.brokers == std::vector<std::string>{"a:9092", "b:9093"});
  CHECK(kafka.kafka.topic_prefix == "tapflow.");
  CHECK(outputFromCommandLine("kafka://a:9092").kafka.topic_prefix == "");
  const OutputConfig hep = outputFromCommandLine("hep+tls://[::1]:9061");
  CHECK(hep.type == "hep");
  REQUIRE(hep.hep.destinations.size() == 1);
  CHECK(hep.hep.destinations[0].transport == "tls");
  CHECK(hep.hep.destinations[0].host == "::1");
  CHECK(hep.hep.destinations[0].port == 9061);
  CHECK(outputFromCommandLine("hep://127.0.0.1:9060").hep.destinations[0].transport == "udp");
  CHECK(outputFromCommandLine("hep+tcp://127.0.0.1:9060").hep.destinations[0].transport == "tcp");
  CHECK(outputFromCommandLine("-").type == "jsonl");
  CHECK(outputFromCommandLine("out/events.jsonl").path == "out/events.jsonl");
  CHECK(commandLineError("kafka://") == "-o kafka://: broker must be HOST:PORT (IPv6 as [::1]:9108), got \"\"");
  CHECK(commandLineError("kafka://k:9092/a b") ==
        "-o kafka://k:9092/a b: the topic prefix may hold only letters, digits, '.', '_' and '-'");
  CHECK(commandLineError("hep://h") == "-o hep://h: must be HOST:PORT (IPv6 as [::1]:9108), got \"h\"");
  CHECK(commandLineError("http://x:80") ==
        "-o http://x:80: unknown output; use -, a file path, kafka://BROKER[,BROKER...][/PREFIX], hep://HOST:PORT, "
        "hep+tcp://HOST:PORT or hep+tls://HOST:PORT");
}
