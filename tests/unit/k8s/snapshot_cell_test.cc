// SnapshotCell: readers pin without locks, an object retired while pinned lives
// until the pin is gone, and one published after a pin is not held back by it.
#include "k8s/snapshot_cell.h"

#include <doctest/doctest.h>

#include <thread>

using namespace tapflow;

namespace {

struct Tracked {
  explicit Tracked(int v, std::atomic<int>& live) : value(v), live_(live) { ++live_; }
  ~Tracked() { --live_; }
  int value;
  std::atomic<int>& live_;
};

}  // namespace

TEST_CASE("an object retired while a reader pins it is freed only after the reader unpins") {
  std::atomic<int> live{0};
  SnapshotCell<Tracked> cell(std::make_shared<Tracked>(1, live));
  auto reader = cell.makeReader();
  const Tracked& pinned = reader->pin();
  CHECK(pinned.value == 1);
  cell.publish(std::make_shared<Tracked>(2, live));
  cell.publish(std::make_shared<Tracked>(3, live));
  CHECK(pinned.value == 1);  // still alive under the pin
  CHECK(live.load() == 3);
  CHECK(cell.retiredCount() == 2);
  reader->unpin();
  cell.reclaim();
  CHECK(live.load() == 1);
  CHECK(cell.retiredCount() == 0);
  CHECK(reader->pin().value == 3);
  reader->unpin();
}

TEST_CASE("a reader pinned after a publish does not hold back the object before it") {
  std::atomic<int> live{0};
  SnapshotCell<Tracked> cell(std::make_shared<Tracked>(1, live));
  cell.publish(std::make_shared<Tracked>(2, live));
  auto reader = cell.makeReader();
  {
    SnapshotCell<Tracked>::Guard guard(*reader);
    CHECK(guard->value == 2);
    cell.reclaim();
    CHECK(live.load() == 1);  // object 1 freed although a reader is pinned
  }
  CHECK(cell.latest()->value == 2);
}

TEST_CASE("reader slots are reused and their number is bounded") {
  std::atomic<int> live{0};
  SnapshotCell<Tracked> cell(std::make_shared<Tracked>(1, live));
  std::vector<std::unique_ptr<SnapshotCell<Tracked>::Reader>> readers;
  for (size_t i = 0; i < SnapshotCell<Tracked>::kMaxReaders; ++i) readers.push_back(cell.makeReader());
  CHECK_THROWS_AS(cell.makeReader(), std::runtime_error);
  readers.pop_back();
  CHECK(cell.makeReader() != nullptr);
}

TEST_CASE("concurrent readers never see a freed object while the writer publishes") {
  std::atomic<int> live{0};
  SnapshotCell<Tracked> cell(std::make_shared<Tracked>(0, live));
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  auto read = [&] {
    auto reader = cell.makeReader();
    int last = 0;
    while (!done.load()) {
      SnapshotCell<Tracked>::Guard guard(*reader);
      if (guard->value < last) bad.fetch_add(1);  // published values only grow
      last = guard->value;
    }
  };
  std::thread r1(read), r2(read);
  for (int i = 1; i <= 2000; ++i) cell.publish(std::make_shared<Tracked>(i, live));
  done = true;
  r1.join();
  r2.join();
  cell.reclaim();
  CHECK(bad.load() == 0);
  CHECK(live.load() == 1);
}
