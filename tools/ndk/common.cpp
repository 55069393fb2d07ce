#include "common.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <iostream>

namespace ndktool {

std::string hex(unsigned long long v, int width) { return fmt::format("{:#0{}x}", v, width ? width + 2 : 0); }

std::string statusName(NTSTATUS s) {
  switch (s) {
    case NDIS_STATUS_SUCCESS: return "SUCCESS";
    case NDIS_STATUS_PENDING: return "PENDING";
    case NDIS_STATUS_BAD_VERSION: return "NDIS_STATUS_BAD_VERSION";
    case NDIS_STATUS_ADAPTER_NOT_READY: return "NDIS_STATUS_ADAPTER_NOT_READY";
    case NDIS_STATUS_RESOURCES: return "NDIS_STATUS_RESOURCES";
    case NDIS_STATUS_FAILURE: return "NDIS_STATUS_FAILURE";
    case NDIS_STATUS_NOT_SUPPORTED: return "NDIS_STATUS_NOT_SUPPORTED";
    case NDIS_STATUS_INVALID_PARAMETER: return "NDIS_STATUS_INVALID_PARAMETER";
    case NDIS_STATUS_ADAPTER_NOT_FOUND: return "NDIS_STATUS_ADAPTER_NOT_FOUND";
    case NDIS_STATUS_INVALID_LENGTH: return "NDIS_STATUS_INVALID_LENGTH";
    case NDIS_STATUS_INVALID_DATA: return "NDIS_STATUS_INVALID_DATA";
    case NDIS_STATUS_BUFFER_TOO_SHORT: return "NDIS_STATUS_BUFFER_TOO_SHORT";
    case NDIS_STATUS_INVALID_OID: return "NDIS_STATUS_INVALID_OID";
    case STATUS_BUFFER_TOO_SMALL: return "STATUS_BUFFER_TOO_SMALL";
    case STATUS_IO_TIMEOUT: return "STATUS_IO_TIMEOUT";
    default: return hex(static_cast<std::uint32_t>(s), 8);
  }
}

std::string addressString(const SOCKADDR_INET& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.si_family == AF_INET) {
    inet_ntop(AF_INET, &a.Ipv4.sin_addr, buf, sizeof buf);
    const unsigned port = ntohs(a.Ipv4.sin_port);
    return port ? fmt::format("{}:{}", buf, port) : std::string(buf);
  }
  if (a.si_family == AF_INET6) {
    inet_ntop(AF_INET6, &a.Ipv6.sin6_addr, buf, sizeof buf);
    const unsigned port = ntohs(a.Ipv6.sin6_port);
    return port ? fmt::format("[{}]:{}", buf, port) : std::string(buf);
  }
  return fmt::format("<family {}>", static_cast<int>(a.si_family));
}

std::vector<std::string> adapterFlagNames(ULONG flags) {
  static const std::pair<ULONG, const char*> kFlags[] = {
      {NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED, "IN_ORDER_DMA_SUPPORTED"},
      {NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED, "RDMA_READ_SINK_NOT_REQUIRED"},
      {NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED, "CQ_INTERRUPT_MODERATION_SUPPORTED"},
      {NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED, "MULTI_ENGINE_SUPPORTED"},
      {NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED, "RDMA_READ_LOCAL_INVALIDATE_SUPPORTED"},
      {NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, "CQ_RESIZE_SUPPORTED"},
      {NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED, "LOOPBACK_CONNECTIONS_SUPPORTED"},
  };
  std::vector<std::string> out;
  ULONG known = 0;
  for (auto [bit, name] : kFlags) {
    known |= bit;
    if (flags & bit) out.emplace_back(name);
  }
  if (flags & ~known) out.push_back(fmt::format("UNKNOWN({})", hex(flags & ~known)));
  return out;
}

std::string technologyName(int t) {
  switch (t) {
    case NdkiWarp: return "iWARP";
    case NdkInfiniBand: return "InfiniBand";
    case NdkRoCE: return "RoCE";
    case NdkRoCEv2: return "RoCEv2";
    case NdkUndefined: return "Undefined";
    default: return fmt::format("unknown({})", t);
  }
}

nlohmann::ordered_json adapterInfoJson(const NDK_ADAPTER_INFO& i) {
  nlohmann::ordered_json j;
  j["Version"] = {{"Major", i.Version.Major}, {"Minor", i.Version.Minor}};
  j["VendorId"] = i.VendorId;
  j["DeviceId"] = i.DeviceId;
  j["MaxRegistrationSize"] = static_cast<std::uint64_t>(i.MaxRegistrationSize);
  j["MaxWindowSize"] = static_cast<std::uint64_t>(i.MaxWindowSize);
  j["FRMRPageCount"] = i.FRMRPageCount;
  j["MaxInitiatorRequestSge"] = i.MaxInitiatorRequestSge;
  j["MaxReceiveRequestSge"] = i.MaxReceiveRequestSge;
  j["MaxReadRequestSge"] = i.MaxReadRequestSge;
  j["MaxTransferLength"] = i.MaxTransferLength;
  j["MaxInlineDataSize"] = i.MaxInlineDataSize;
  j["MaxInboundReadLimit"] = i.MaxInboundReadLimit;
  j["MaxOutboundReadLimit"] = i.MaxOutboundReadLimit;
  j["MaxReceiveQueueDepth"] = i.MaxReceiveQueueDepth;
  j["MaxInitiatorQueueDepth"] = i.MaxInitiatorQueueDepth;
  j["MaxSrqDepth"] = i.MaxSrqDepth;
  j["MaxCqDepth"] = i.MaxCqDepth;
  j["LargeRequestThreshold"] = i.LargeRequestThreshold;
  j["MaxCallerData"] = i.MaxCallerData;
  j["MaxCalleeData"] = i.MaxCalleeData;
  j["AdapterFlags"] = i.AdapterFlags;
  j["AdapterFlagNames"] = adapterFlagNames(i.AdapterFlags);
  j["RdmaTechnology"] = static_cast<int>(i.RdmaTechnology);
  j["RdmaTechnologyName"] = technologyName(i.RdmaTechnology);
  return j;
}

nlohmann::ordered_json headerJson(const NDIS_OBJECT_HEADER& h) {
  return {{"Type", h.Type}, {"Revision", h.Revision}, {"Size", h.Size}};
}

nlohmann::ordered_json capabilitiesJson(const NDIS_NDK_CAPABILITIES& c) {
  nlohmann::ordered_json j;
  j["Header"] = headerJson(c.Header);
  j["Flags"] = c.Flags;
  j["MaxQpCount"] = c.MaxQpCount;
  j["MaxCqCount"] = c.MaxCqCount;
  j["MaxMrCount"] = c.MaxMrCount;
  j["MaxPdCount"] = c.MaxPdCount;
  j["MaxInboundReadLimit"] = c.MaxInboundReadLimit;
  j["MaxOutboundReadLimit"] = c.MaxOutboundReadLimit;
  j["MaxMwCount"] = c.MaxMwCount;
  j["MaxSrqCount"] = c.MaxSrqCount;
  j["MissingCounterMask"] = static_cast<std::uint64_t>(c.MissingCounterMask);
  return j;
}

std::optional<std::vector<NET_IFINDEX>> selectInterfaces(const std::optional<unsigned>& ifindex) {
  ULONG n = OpenNdkEnumerateInterfaces(nullptr, 0);
  std::vector<NET_IFINDEX> all(n);
  n = OpenNdkEnumerateInterfaces(all.data(), n);
  all.resize(std::min<std::size_t>(n, all.size()));
  if (!ifindex) return all;
  for (NET_IFINDEX i : all)
    if (i == *ifindex) return std::vector<NET_IFINDEX>{i};
  std::cerr << fmt::format("ndk: interface {} is not an NDK-capable interface (see `ndk info`)\n", *ifindex);
  return std::nullopt;
}

}  // namespace ndktool
