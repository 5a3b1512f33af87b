// One event on its way to the outputs: its JSON text, what routes it (type,
// Kafka key), and for the messages HEP forwards, the raw message with its
// addressing. Workers build it once and every output shares it; events are
// recycled through their worker's pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "packet/decoded_packet.h"
#include "packet/timestamp.h"

namespace tapflow {

enum class EventType : uint8_t { kFlow, kHttp, kSip, kSipCall, kDns, kTls, kStats };
inline constexpr size_t kEventTypeCount = 7;

// The event's `type` field: "flow", "http", "sip", "sip_call", "dns", "tls", "stats".
constexpr std::string_view eventTypeName(EventType type) {
  constexpr std::string_view kNames[kEventTypeCount] = {"flow", "http", "sip", "sip_call", "dns", "tls", "stats"};
  return kNames[size_t(type)];
}

// A captured message as HEP v3 carries it (protocol type, addressing, payload).
struct HepMessage {
  uint8_t proto_type = 1;  // HEP protocol type: 1 SIP, 53 DNS, 100 log
  uint8_t ip_version = 4;  // 4 or 6
  uint8_t ip_proto = 17;   // 6 TCP, 17 UDP, 132 SCTP
  IpAddress src_ip{}, dst_ip{};
  uint16_t src_port = 0, dst_port = 0;
  uint16_t vlan = 0;       // outermost VLAN id, 0: none
  Timestamp ts = 0;
  std::string correlation_id;  // SIP: the Call-ID
  // "namespace/pod" of the sender and of the receiver when the address is a
  // pod's (Kubernetes enrichment); "": not a pod, or no cluster. Owned text:
  // the message outlives the cluster snapshot it was resolved in.
  std::string src_pod, dst_pod;
  std::string payload;         // SIP: one whole message, start line to end of body
};

class EventShelf;

struct Event {
  EventType type = EventType::kFlow;
  std::string json;          // one JSON object, no trailing newline
  std::string key;           // the flow's Community ID; "" for events without a flow
  std::unique_ptr<HepMessage> hep;  // set on the events HEP forwards (SIP messages)

  Event() = default;
  // Moves the contents only: the new event is unowned and belongs to no pool.
  Event(Event&& other) noexcept
      : type(other.type), json(std::move(other.json)), key(std::move(other.key)), hep(std::move(other.hep)) {}

 private:
  friend class EventPtr;
  friend class EventPool;
  friend class EventShelf;
  std::atomic<uint32_t> refs_{0};
  EventShelf* home_ = nullptr;  // the pool it returns to; null: deleted when released
};

// Shared ownership of an event, counted in the event itself: outputs share
// one event, and the last one done with it gives it back to its pool (or
// deletes it) without the allocation std::shared_ptr makes per event.
class EventPtr {
 public:
  EventPtr() = default;
  // A one-off event, deleted when released (stats reports, tests, benchmarks).
  static EventPtr make();
  EventPtr(const EventPtr& other) noexcept : event_(other.event_) {
    if (event_) event_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  EventPtr(EventPtr&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  EventPtr& operator=(EventPtr other) noexcept {
    std::swap(event_, other.event_);
    return *this;
  }
  ~EventPtr() { reset(); }

  void reset() noexcept {
    if (event_) release(std::exchange(event_, nullptr));
  }
  const Event& operator*() const { return *event_; }
  const Event* operator->() const { return event_; }
  explicit operator bool() const { return event_ != nullptr; }
  // The event to fill in, while this is its only owner (before it is
  // published); null once it is shared.
  Event* exclusive() const {
    return event_ && event_->refs_.load(std::memory_order_acquire) == 1 ? event_ : nullptr;
  }

 private:
  friend class EventPool;
  explicit EventPtr(Event* event) noexcept : event_(event) { event_->refs_.store(1, std::memory_order_relaxed); }
  static void release(Event* event) noexcept;

  Event* event_ = nullptr;
};

// Where one producer (a worker) takes its events from. An event goes back,
// with its buffers' capacity, when the last output is done with it, so a
// worker in its steady state publishes without allocating, and no memory
// crosses from the outputs' threads to the worker's allocator.
//
// The free list outlives the pool object until every event lent out is
// back: outputs may still hold events when their worker is destroyed.
class EventPool {
 public:
  EventPool();
  ~EventPool();
  EventPool(const EventPool&) = delete;
  EventPool& operator=(const EventPool&) = delete;

  // A cleared event of `type` with a single owner (exclusive() gives it).
  // The pool's thread only; allocates only when every event is in flight.
  EventPtr take(EventType type);
  // Events this pool has allocated: the most ever in flight at once.
  size_t created() const;

 private:
  EventShelf* shelf_;
};

}  // namespace tapflow
