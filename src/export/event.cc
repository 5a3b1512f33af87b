#include "export/event.h"

#include <concurrentqueue.h>

namespace tapflow {

// One pool's free list. It is counted: one reference for the EventPool
// object and one for each event lent out, so it lives until its owner and
// every event it lent are gone, whichever goes last.
class EventShelf {
 public:
  // A JSON buffer above this goes back to the allocator: one huge event (a
  // long header block) must not pin its memory in the pool for good.
  static constexpr size_t kMaxKeptCapacity = 64 * 1024;
  // A new event's buffer starts at the size of a typical event, so the
  // first events of a run do not grow it step by step.
  static constexpr size_t kInitialCapacity = 1024;

  EventShelf() : consumer_(free_) {}
  ~EventShelf() {
    Event* event;
    while (free_.try_dequeue(event)) delete event;
  }

  // The owner's thread only.
  Event* take() {
    Event* event = nullptr;
    if (!free_.try_dequeue(consumer_, event)) {
      event = new Event;
      event->json.reserve(kInitialCapacity);
      event->home_ = this;
      created_.fetch_add(1, std::memory_order_relaxed);
    }
    refs_.fetch_add(1, std::memory_order_relaxed);
    return event;
  }

  // Any thread: the last owner of `event` is done with it.
  void giveBack(Event* event) {
    if (event->json.capacity() > kMaxKeptCapacity) {
      std::string().swap(event->json);
    } else {
      event->json.clear();
    }
    event->key.clear();
    event->hep.reset();
    free_.enqueue(event);
    unref();
  }

  void unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  size_t created() const { return created_.load(std::memory_order_relaxed); }

 private:
  std::atomic<size_t> refs_{1};
  std::atomic<size_t> created_{0};
  moodycamel::ConcurrentQueue<Event*> free_;
  moodycamel::ConsumerToken consumer_;
};

EventPtr EventPtr::make() { return EventPtr(new Event); }

void EventPtr::release(Event* event) noexcept {
  if (event->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (event->home_ != nullptr) {
    event->home_->giveBack(event);
  } else {
    delete event;
  }
}

EventPool::EventPool() : shelf_(new EventShelf) {}

EventPool::~EventPool() { shelf_->unref(); }

EventPtr EventPool::take(EventType type) {
  Event* event = shelf_->take();
  event->type = type;
  return EventPtr(event);
}

size_t EventPool::created() const { return shelf_->created(); }

}  // namespace tapflow
