// The object framework every NDK object of the soft provider is built on.
//
// What a consumer holds is a Shell: the C object (NDK_OBJECT_HEADER + dispatch pointer, exactly the
// 48-byte NDK_XXX structure of ndkpi.h) followed by a magic word and a pointer back to the C++
// object. Shells are allocated apart from the C++ object and parked in a quarantine after the
// object is destroyed, so that a stale pointer (double close, use after close) is recognised by its
// tombstone magic instead of reading freed memory.
//
// Lifetime (NDKPI §5.3):
//  * antecedent/successor: a successor holds one "successor reference" on each antecedent from
//    creation/association until its own close has completed *and* its close callback returned
//    (R24, R26);
//  * busy references: each asynchronous request in flight and each running event callback holds one
//    (R21); close cannot complete while any is held;
//  * close: starts cancellation (onCloseStarted, R20), then completes inline (STATUS_SUCCESS) if
//    nothing holds the object and no antecedent's close has started, else returns STATUS_PENDING and the last release posts the
//    NdkCloseCompletion to the adapter's callback executor (never inline in another provider call,
//    R15) — after it returns, the antecedents are released and the object is destroyed.
#pragma once
#include <ndk/ndk.h>

#include <atomic>
#include <functional>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace openndk::provider {

class Object;
class Adapter;

struct Shell {
  NDK_OBJECT_HEADER Header;  // R1: the consumer sees this at offset 0
  const void* Dispatch;      // written once before hand-out, never read back (R3)
  std::uint64_t Magic;       // type-specific while alive, kTombstone after destruction
  Object* Self;
};
static_assert(offsetof(Shell, Dispatch) == offsetof(NDK_CQ, Dispatch), "Shell must mirror NDK_XXX");
static_assert(sizeof(NDK_CQ) == offsetof(Shell, Magic), "Shell extends NDK_XXX");

inline constexpr std::uint64_t kTombstone = 0x0bad0b1ec7c105edULL;  // "bad object, closed"
std::uint64_t magicFor(NDK_OBJECT_TYPE type);

// Outcome of looking up a consumer-supplied object pointer.
enum class Lookup { Ok, Null, Closed, WrongType, Garbage };

class Object {
 public:
  Object(NDK_OBJECT_TYPE type, Adapter* adapter, const void* dispatch, NDK_VERSION version);
  virtual ~Object();
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  NDK_OBJECT_TYPE type() const { return type_; }
  Adapter* adapter() const { return adapter_; }
  NDK_OBJECT_HEADER* header() const { return &shell_->Header; }
  template <class C>
  C* ndk() const {
    return reinterpret_cast<C*>(shell_);
  }

  // Resolves any consumer pointer to an object header (or NDK_XXX*) to the live object.
  static Object* resolve(const void* p, Lookup* why = nullptr);
  // As resolve, and the object must be of type T (T::kType).
  template <class T>
  static T* resolveAs(const void* p, Lookup* why = nullptr) {
    Lookup w = Lookup::Ok;
    Object* o = resolve(p, &w);
    if (o && o->type_ != T::kType) {
      w = Lookup::WrongType;
      o = nullptr;
    }
    if (why) *why = w;
    return static_cast<T*>(o);
  }
  static NTSTATUS statusFor(Lookup why);
  // NDK objects (adapters included) alive in the process: leak checks that work in every build.
  static std::size_t liveCount();

  // R24: `this` becomes a successor of `antecedent` until this object is gone.
  void attachTo(Object* antecedent);

  // Busy references (requests in flight, running callbacks).
  void hold();
  void release();

  // Hands a consumer callback (the caller holds a busy reference that `fn` releases) to a thread
  // that may run it: the engine thread whose progress produced the event runs it itself once it
  // has left its progress context (no hop through the callback executor: one thread context per
  // connection setup, issue 12); any other thread posts it to the adapter's serial executor.
  // Either way no provider lock is held while it runs (R15), on some thread (R17).
  void deliverCallback(std::function<void()> fn);

  // NdkCloseObject for every table (R18–R28).
  NTSTATUS close(NDK_FN_CLOSE_COMPLETION cb, PVOID ctx);
  bool closing() const { return closing_.load(std::memory_order_acquire); }

  // Counts a rejected call on this object's adapter and writes the log line; returns `status`.
  NTSTATUS reject(const char* function, NTSTATUS status, const char* why) const;

 protected:
  // Called once when the close starts, without framework locks held: cancel/flush what is
  // outstanding (R20). Completions it triggers release busy references as usual.
  virtual void onCloseStarted() {}
  // Called when the last successor reference is dropped while a close is pending (listener,
  // shared endpoint): lets the object release endpoint state early. Default: nothing.
  virtual void onDestroy() {}

 protected:
  std::mutex life_mu_;
  std::condition_variable life_cv_;  // signalled when successors_ changes (blocking adapter close)
  int successors_ = 0;

 private:
  friend class Adapter;
  void successorGone();
  void tryFinishLocked(std::unique_lock<std::mutex>& lock);
  bool antecedentClosingLocked() const;  // some antecedent's close has started (life_mu_ held)
  void finish(bool inline_close);

  const NDK_OBJECT_TYPE type_;
  Adapter* const adapter_;
  Shell* shell_;
  std::atomic<bool> closing_{false};
  bool finished_ = false;
  int busy_ = 0;
  bool close_returned_ = false;
  NDK_FN_CLOSE_COMPLETION close_cb_ = nullptr;
  PVOID close_ctx_ = nullptr;
  std::vector<Object*> antecedents_;
};

// Common bad-object handling for thunks: resolves, or counts/logs and yields the status.
#define NDK_RESOLVE_OR_RETURN(T, var, ptr, fn, failret)                         \
  Lookup var##_why = Lookup::Ok;                                                \
  T* var = Object::resolveAs<T>(ptr, &var##_why);                               \
  if (!var) {                                                                   \
    ::openndk::provider::rejectObject(fn, Object::statusFor(var##_why), var##_why); \
    return failret;                                                             \
  }

void rejectObject(const char* function, NTSTATUS status, Lookup why);
std::uint64_t rejectedObjectCalls();

}  // namespace openndk::provider
