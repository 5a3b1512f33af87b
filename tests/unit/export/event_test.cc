#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "export/event.h"
#include "export/event_output.h"
#include "memory_sink.h"

using namespace tapflow;

TEST_CASE("an event is filled while it has one owner, shared after, and recycled with its buffer") {
  EventPool pool;
  const char* buffer = nullptr;
  {
    EventPtr event = pool.take(EventType::kDns);
    REQUIRE(event.exclusive() != nullptr);
    CHECK(event->type == EventType::kDns);
    CHECK(event->json.empty());
    event.exclusive()->json.assign(300, 'x');
    event.exclusive()->key = "1:0123456789abcdefghijklmnopq=";
    buffer = event->json.data();
    EventPtr shared = event;
    CHECK(event.exclusive() == nullptr);  // two owners: nobody may change it
    CHECK(shared->json.size() == 300);
    event.reset();
    CHECK(shared.exclusive() != nullptr);
  }
  CHECK(pool.created() == 1);
  EventPtr again = pool.take(EventType::kFlow);
  CHECK(pool.created() == 1);  // the same event, back from the pool
  CHECK(again->type == EventType::kFlow);
  CHECK(again->json.empty());
  CHECK(again->key.empty());
  CHECK(again->json.data() == buffer);  // its capacity kept
  EventPtr second = pool.take(EventType::kFlow);
  CHECK(pool.created() == 2);  // the first is still out
}

TEST_CASE("an event whose buffer grew huge gives the memory back instead of keeping it") {
  EventPool pool;
  {
    EventPtr event = pool.take(EventType::kHttp);
    event.exclusive()->json.assign(1 << 20, 'x');
  }
  EventPtr again = pool.take(EventType::kHttp);
  CHECK(pool.created() == 1);
  CHECK(again->json.capacity() < (1 << 20));
}

TEST_CASE("events outlive their pool: outputs may hold them when the worker is gone") {
  EventPtr survivor;
  {
    EventPool pool;
    survivor = pool.take(EventType::kSip);
    survivor.exclusive()->json = "{\"type\":\"sip\"}";
    EventPtr back_in_pool = pool.take(EventType::kSip);  // returned before the pool goes
  }
  CHECK(survivor->json == "{\"type\":\"sip\"}");
  survivor.reset();  // the last reference frees the pool's free list (ASan: no leak, no use after free)
}

TEST_CASE("a one-off event is deleted by its last owner") {
  EventPtr event = EventPtr::make();
  REQUIRE(event.exclusive() != nullptr);
  event.exclusive()->json = "{}";
  EventPtr copy = event;
  event.reset();
  CHECK(copy->json == "{}");
}

TEST_CASE("events cross to output threads and come back: the pool stops growing at what is in flight") {
  constexpr size_t kCapacity = 64;
  constexpr int kEvents = 20000;
  std::vector<std::string> first, second;
  EventOutput a("a", std::make_unique<MemorySink>(&first), kCapacity, FullQueuePolicy::kWait);
  EventOutput b("b", std::make_unique<MemorySink>(&second), kCapacity, FullQueuePolicy::kWait);
  auto token_a = a.makeProducer();
  auto token_b = b.makeProducer();
  a.start();
  b.start();
  size_t created = 0;
  {
    EventPool pool;
    std::thread producer([&] {
      std::string json;
      for (int i = 0; i < kEvents; ++i) {
        EventPtr event = pool.take(EventType::kFlow);
        json = "{\"n\":" + std::to_string(i) + "}";
        event.exclusive()->json.swap(json);
        a.publish(*token_a, event);
        b.publish(*token_b, std::move(event));
      }
    });
    producer.join();
    a.stop();
    b.stop();
    created = pool.created();
  }
  REQUIRE(first.size() == size_t(kEvents));
  REQUIRE(second.size() == size_t(kEvents));
  CHECK(first == second);
  std::set<std::string> distinct(first.begin(), first.end());
  CHECK(distinct.size() == size_t(kEvents));
  // Each output holds at most its capacity, plus the writer's bulk in hand.
  CHECK(created <= 2 * (kCapacity + 256) + 1);
}
