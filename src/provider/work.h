// Internal request and completion records shared by the provider objects and the data path.
#pragma once
#include <ndk/ndk.h>

#include <cstdint>
#include <vector>

#include "base/inline_vec.h"

namespace openndk::provider {

class Mr;
class Mw;

// One CQ entry as queued by a producer (QP, data path).
struct CompletionEntry {
  NTSTATUS status = STATUS_SUCCESS;
  ULONG bytesTransferred = 0;
  PVOID qpContext = nullptr;
  PVOID requestContext = nullptr;
  NDK_OPERATION_TYPE type = NdkOperationTypeSend;
  ULONG_PTR typeSpecific = 0;  // invalidated token for ReceiveAndInvalidate (R55)
  bool solicited = false;      // receive of a message sent with SEND_AND_SOLICIT_EVENT (R43)
};

// A copied SGE (R69: the provider never keeps the consumer's array).
struct Sge {
  std::uint64_t address = 0;  // VirtualAddress, or LogicalAddress with the privileged token
  ULONG length = 0;
  UINT32 token = 0;
};

// SGE lists and inline data of requests: a few SGEs / bytes inline in the record, no heap
// allocation per request in the common case (base/inline_vec.h).
using SgeList = base::InlineVec<Sge, 4>;
using InlineBytes = base::InlineVec<std::uint8_t, 64>;

// A posted receive (QP receive queue or SRQ).
struct ReceiveRequest {
  PVOID requestContext = nullptr;
  SgeList sges;
  std::uint64_t totalLength = 0;
};

// An initiator request accepted by a QP, handed to the transport (the data path).
struct WorkRequest {
  NDK_OPERATION_TYPE type = NdkOperationTypeSend;
  PVOID requestContext = nullptr;
  ULONG flags = 0;
  SgeList sges;            // empty for INLINE requests
  InlineBytes inlineData;  // copied before the post returned (R71)
  bool isInline = false;
  std::uint64_t totalLength = 0;
  std::uint64_t remoteAddress = 0;  // Read / Write
  UINT32 remoteToken = 0;           // Read / Write / SendAndInvalidate
  // Bind
  Mr* mr = nullptr;
  Mw* mw = nullptr;
  std::uint64_t virtualAddress = 0;
  std::uint64_t length = 0;
  // FastRegister: pages (logical addresses), first-byte offset; the token it will carry (R126)
  std::vector<std::uint64_t> pages;
  ULONG fbo = 0;
  UINT32 newToken = 0;
  // Invalidate: target (an Mr or Mw)
  NDK_OBJECT_HEADER* target = nullptr;
};

}  // namespace openndk::provider
