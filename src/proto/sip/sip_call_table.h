// The calls one worker tracks, keyed by Call-ID: a fixed pool of records whose
// strings live inline (bounded, truncation reported), a chained hash index and
// three time-ordered lists (in setup, established, lingering after their end) so
// that expiry only touches the calls it ends. Nothing is allocated after start-up;
// a record's memory (~430 bytes) is first written when the record is first used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "packet/timestamp.h"

namespace tapflow {

// A bounded copy of a string: the first kCap bytes and the original length.
template <size_t kCap>
struct SipFixedString {
  char bytes[kCap];
  uint32_t stored;    // bytes kept (<= kCap)
  uint32_t original;  // length before truncation

  // Returns false if `s` had to be truncated.
  bool assign(std::string_view s) {
    stored = static_cast<uint32_t>(s.size() < kCap ? s.size() : kCap);
    original = static_cast<uint32_t>(s.size());
    for (uint32_t i = 0; i < stored; ++i) bytes[i] = s[i];
    return stored == original;
  }
  std::string_view view() const { return std::string_view(bytes, stored); }
  // Equal to what assign(s) would have kept from the same original.
  bool matches(std::string_view s) const { return s.size() == original && s.substr(0, stored) == view(); }
};

// Members have no initializers on purpose: records are created default-initialized so
// untouched ones cost no resident memory; SipCallTable::create() sets every field.
struct SipCallRecord {
  enum class State : uint8_t {
    kSetup,        // INVITE sent, no final response yet
    kEstablished,  // 2xx to the INVITE seen
    kChallenged,   // 401/407 to the INVITE: waiting for the INVITE with credentials (same Call-ID)
    kEnded,        // summary emitted; kept a while so retransmissions do not start a new call
  };
  State state;
  bool cancel_seen;
  uint16_t final_status;
  uint32_t invite_cseq;
  Timestamp invite_ts, ringing_ts, answer_ts, end_ts;
  Timestamp last_ts;       // last message of the call
  Timestamp state_since;   // when it entered its state (setup and lingering lists are in this order)
  uint64_t id_hash;
  SipFixedString<96> call_id;
  SipFixedString<96> from_uri;
  SipFixedString<96> to_uri;
  SipFixedString<48> from_tag;
  uint32_t hash_next;  // index chain of the hash bucket
  uint32_t prev, next; // links in the list of its state
};

class SipCallTable {
 public:
  enum class List : uint8_t { kSetup, kEstablished, kLingering };

  SipCallTable(uint32_t max_calls, uint64_t hash_seed);
  SipCallTable(const SipCallTable&) = delete;
  SipCallTable& operator=(const SipCallTable&) = delete;

  SipCallRecord* find(std::string_view call_id);
  // A new record in state kSetup at the tail of the setup list, or nullptr if all are in use.
  // The caller fills the call's fields. `truncated` tells whether the Call-ID was cut.
  SipCallRecord* create(std::string_view call_id, Timestamp ts, bool& truncated);
  // Moves a record to the tail of the list of `state`.
  void setState(SipCallRecord& call, SipCallRecord::State state, Timestamp ts);
  // A message of the call at `ts`: an established call moves to the tail of its list.
  void touch(SipCallRecord& call, Timestamp ts);
  void release(SipCallRecord& call);
  // Oldest record of a list (setup: oldest INVITE; established: least recently active;
  // lingering: longest lingering), or nullptr.
  SipCallRecord* oldest(List list);

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct ListHead {
    uint32_t head = kNone, tail = kNone;
  };
  static List listOf(SipCallRecord::State state);
  uint64_t hash(std::string_view call_id) const;
  uint32_t indexOf(const SipCallRecord& call) const { return static_cast<uint32_t>(&call - records_.get()); }
  void link(SipCallRecord& call);
  void unlink(SipCallRecord& call);

  uint32_t capacity_;
  uint32_t size_ = 0;
  uint32_t never_used_ = 0;  // records [never_used_, capacity_) were never handed out
  uint32_t free_head_ = kNone;
  uint64_t hash_seed_;
  std::unique_ptr<SipCallRecord[]> records_;
  std::vector<uint32_t> buckets_;  // power of two
  ListHead lists_[3];
};

}  // namespace tapflow
