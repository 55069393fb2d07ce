#include "provider/object.h"

#include <atomic>
#include <deque>

#include "base/log.h"
#include "engine/event_loop.h"
#include "provider/adapter.h"

namespace openndk::provider {
namespace {

// Destroyed objects' shells stay readable (tombstoned) for this many later destructions, so that
// a double close or a call on a closed object is answered with a status instead of reading freed
// memory. Beyond it, a stale pointer is the consumer breaking R19.
constexpr std::size_t kShellQuarantine = 4096;

struct ShellPool {
  std::mutex mu;
  std::deque<Shell*> quarantine;

  Shell* allocate() { return new Shell{}; }
  void retire(Shell* s) {
    s->Magic = kTombstone;
    s->Self = nullptr;
    Shell* victim = nullptr;
    {
      std::lock_guard lock(mu);
      quarantine.push_back(s);
      if (quarantine.size() > kShellQuarantine) {
        victim = quarantine.front();
        quarantine.pop_front();
      }
    }
    delete victim;
  }
};

ShellPool& shellPool() {
  static ShellPool* pool = new ShellPool;  // never destroyed: objects may outlive static teardown
  return *pool;
}

std::atomic<std::uint64_t> g_rejected_object_calls{0};

const char* lookupText(Lookup why) {
  switch (why) {
    case Lookup::Ok: return "ok";
    case Lookup::Null: return "NULL object pointer";
    case Lookup::Closed: return "object already closed";
    case Lookup::WrongType: return "object of another type";
    case Lookup::Garbage: return "not an object of this provider";
  }
  return "?";
}

}  // namespace

std::uint64_t magicFor(NDK_OBJECT_TYPE type) {
  return 0x4f4e444b00000000ULL | static_cast<std::uint32_t>(type);  // "ONDK" + type
}

namespace {
std::atomic<std::size_t> g_liveObjects{0};  // Object::liveCount()
}  // namespace

Object::Object(NDK_OBJECT_TYPE type, Adapter* adapter, const void* dispatch, NDK_VERSION version)
    : type_(type), adapter_(adapter) {  // never NULL: the adapter passes itself
  shell_ = shellPool().allocate();
  g_liveObjects.fetch_add(1, std::memory_order_relaxed);
  shell_->Header.Version = version;  // R1
  shell_->Header.ObjectType = type;
  // NdkReserved stays zero (value-initialised) and is never written again (R2).
  shell_->Dispatch = dispatch;  // R3
  shell_->Magic = magicFor(type);
  shell_->Self = this;
}

Object::~Object() {
  shellPool().retire(shell_);
  g_liveObjects.fetch_sub(1, std::memory_order_relaxed);
}

std::size_t Object::liveCount() { return g_liveObjects.load(std::memory_order_relaxed); }

Object* Object::resolve(const void* p, Lookup* why) {
  Lookup w = Lookup::Ok;
  Object* o = nullptr;
  if (!p) {
    w = Lookup::Null;
  } else {
    const Shell* s = static_cast<const Shell*>(p);
    if (s->Magic == kTombstone) {
      w = Lookup::Closed;
    } else if (s->Magic != magicFor(s->Header.ObjectType) || !s->Self || s->Self->shell_ != s) {
      w = Lookup::Garbage;
    } else {
      o = s->Self;
    }
  }
  if (why) *why = w;
  return o;
}

NTSTATUS Object::statusFor(Lookup why) {
  switch (why) {
    case Lookup::Ok: return STATUS_SUCCESS;
    case Lookup::Null: return STATUS_INVALID_PARAMETER;
    case Lookup::WrongType: return STATUS_OBJECT_TYPE_MISMATCH;
    case Lookup::Closed:
    case Lookup::Garbage: return STATUS_INVALID_HANDLE;
  }
  return STATUS_INVALID_PARAMETER;
}

void rejectObject(const char* function, NTSTATUS status, Lookup why) {
  g_rejected_object_calls.fetch_add(1, std::memory_order_relaxed);
  NDK_LOG_INFO("provider", "{}: rejected with 0x{:08X}: {}", function, static_cast<std::uint32_t>(status),
               lookupText(why));
}

std::uint64_t rejectedObjectCalls() { return g_rejected_object_calls.load(); }

NTSTATUS Object::reject(const char* function, NTSTATUS status, const char* why) const {
  adapter_->countRejected();
  NDK_LOG_INFO("provider", "{}: rejected with 0x{:08X}: {}", function, static_cast<std::uint32_t>(status), why);
  return status;
}

void Object::attachTo(Object* antecedent) {
  {
    std::lock_guard lock(antecedent->life_mu_);
    ++antecedent->successors_;
  }
  std::lock_guard lock(life_mu_);
  antecedents_.push_back(antecedent);
}

void Object::hold() {
  std::lock_guard lock(life_mu_);
  ++busy_;
}

void Object::release() {
  std::unique_lock lock(life_mu_);
  --busy_;
  tryFinishLocked(lock);
}

void Object::successorGone() {
  std::unique_lock lock(life_mu_);
  --successors_;
  life_cv_.notify_all();
  tryFinishLocked(lock);
}

void Object::tryFinishLocked(std::unique_lock<std::mutex>& lock) {
  if (!closing_.load(std::memory_order_relaxed) || finished_ || !close_returned_ || busy_ || successors_) return;
  finished_ = true;
  lock.unlock();
  finish(false);
}

NTSTATUS Object::close(NDK_FN_CLOSE_COMPLETION cb, PVOID ctx) {
  {
    std::lock_guard lock(life_mu_);
    if (closing_.load(std::memory_order_relaxed))
      return reject("NdkCloseObject", STATUS_INVALID_HANDLE, "close already requested");
    closing_.store(true, std::memory_order_release);
    close_cb_ = cb;
    close_ctx_ = ctx;
    ++busy_;  // keeps the close from finishing under us while cancellation starts
  }
  onCloseStarted();
  std::unique_lock lock(life_mu_);
  --busy_;
  close_returned_ = true;
  if (busy_ == 0 && successors_ == 0) {
    finished_ = true;
    // R24/R26: closed inline, this object would release an antecedent whose close is already
    // pending while this call has not returned yet, and the antecedent's NdkCloseCompletion would
    // run on the callback thread while the consumer is still inside this close (it may free the
    // antecedent's context there). So the close pends instead: the antecedent is released by the
    // posted completion task, and its own completion runs after ours has returned (same serial
    // executor, or released after our callback when the antecedent is another instance's).
    const bool pend = cb && antecedentClosingLocked();
    lock.unlock();
    finish(!pend);
    return pend ? STATUS_PENDING : STATUS_SUCCESS;
  }
  if (!cb) {
    // A pending close needs its completion callback; without one we still finish, silently.
    NDK_LOG_WARN("provider", "NdkCloseObject without CloseCompletion had to pend; completing silently");
  }
  return STATUS_PENDING;
}

bool Object::antecedentClosingLocked() const {
  for (const Object* a : antecedents_) {
    if (a->closing()) return true;
  }
  return false;
}

void Object::finish(bool inline_close) {
  // Destroys the object and returns its antecedents, still referenced: the caller releases them
  // after the object is gone, so they outlive it (R26).
  auto teardown = [this] {
    onDestroy();
    std::vector<Object*> ants;
    {
      std::lock_guard lock(life_mu_);
      ants.swap(antecedents_);
    }
    delete this;  // tombstones the shell
    return ants;
  };
  if (inline_close) {
    for (Object* a : teardown()) a->successorGone();
    return;
  }
  NDK_FN_CLOSE_COMPLETION cb = close_cb_;
  PVOID ctx = close_ctx_;
  Adapter* const executorOwner = adapter_;
  adapter_->callbacks().post([cb, ctx, teardown, executorOwner] {
    // Detached from its antecedents of the same instance before the consumer hears of the close:
    // a close of the antecedent issued from (or after) this callback does not pend on a closed
    // object (R24). An antecedent finishing here posts its own completion to this serial executor,
    // so it runs after this callback has returned (R26). An antecedent of another adapter instance
    // (a QP of another instance accepted on a connector, R156) completes on its own executor: it is
    // released only after our callback has returned, so R26 holds across executors too.
    std::vector<Object*> foreign;
    for (Object* a : teardown()) {
      if (a->adapter() == executorOwner) {
        a->successorGone();
      } else {
        foreign.push_back(a);
      }
    }
    if (cb) cb(ctx);  // the object's last callback (R22)
    for (Object* a : foreign) a->successorGone();
  });
}

void Object::deliverCallback(std::function<void()> fn) {
  if (engine::EventLoop::canDeferToContextExit()) {
    engine::EventLoop::deferToContextExit(std::move(fn));
    return;
  }
  adapter_->callbacks().post(std::move(fn));
}

}  // namespace openndk::provider
