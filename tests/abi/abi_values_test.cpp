// tests/abi/abi_values_test.cpp - pins every value, flag, status code, OID and
// object type of the OpenNDK C ABI, the member order and member types of
// every dispatch table, and the exact parameter list of every function type
// (NDKPI.md sections 2, 3, 4, 6, 7). Compiling this file also proves that
// <ndk/ndk.h> is valid C++20.
#include <ndk/ndk.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace {

template <typename T>
constexpr uint32_t u32(T v) {
  return static_cast<uint32_t>(v);
}

// ---------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------

TEST(AbiValues, ObjectTypes) {  // 2.2
  EXPECT_EQ(NdkObjectTypeUndefined, 0);
  EXPECT_EQ(NdkObjectTypeAdapter, 1);
  EXPECT_EQ(NdkObjectTypeQp, 2);
  EXPECT_EQ(NdkObjectTypeCq, 3);
  EXPECT_EQ(NdkObjectTypeMr, 4);
  EXPECT_EQ(NdkObjectTypeMw, 5);
  EXPECT_EQ(NdkObjectTypePd, 6);
  EXPECT_EQ(NdkObjectTypeSharedEndpoint, 7);
  EXPECT_EQ(NdkObjectTypeConnector, 8);
  EXPECT_EQ(NdkObjectTypeListener, 9);
  EXPECT_EQ(NdkObjectTypeSrq, 10);
  EXPECT_EQ(NdkObjectTypeMax, 11);
  EXPECT_EQ(sizeof(NDK_OBJECT_TYPE), 4u);
}

TEST(AbiValues, OperationTypesUseHeaderValues) {  // 2.5, [A-2]
  EXPECT_EQ(NdkOperationTypeReceive, 1);
  EXPECT_EQ(NdkOperationTypeReceiveAndInvalidate, 32769);
  EXPECT_EQ(NdkOperationTypeReceiveAndInvalidate, 0x8001);
  EXPECT_EQ(NdkOperationTypeSend, 2);
  EXPECT_EQ(NdkOperationTypeFastRegister, 4);
  EXPECT_EQ(NdkOperationTypeBind, 8);
  EXPECT_EQ(NdkOperationTypeInvalidate, 16);
  EXPECT_EQ(NdkOperationTypeRead, 32);
  EXPECT_EQ(NdkOperationTypeWrite, 64);
  EXPECT_EQ(sizeof(NDK_OPERATION_TYPE), 4u);
}

TEST(AbiValues, RdmaTechnology) {  // 2.10, R166
  EXPECT_EQ(NdkUndefined, 0);
  EXPECT_EQ(NdkiWarp, 1);
  EXPECT_EQ(NdkInfiniBand, 2);
  EXPECT_EQ(NdkRoCE, 3);
  EXPECT_EQ(NdkRoCEv2, 4);
  EXPECT_EQ(NdkMaxTechnology, 5);
}

TEST(AbiValues, PnpEvents) {  // 6.12, R161
  EXPECT_EQ(NetEventNDKEnable, 13);
  EXPECT_EQ(NetEventNDKDisable, 14);
}

// ---------------------------------------------------------------------------
// Flags and constants
// ---------------------------------------------------------------------------

TEST(AbiValues, OpFlags) {  // 2.12.1
  EXPECT_EQ(NDK_OP_FLAG_SILENT_SUCCESS, 0x00000001);
  EXPECT_EQ(NDK_OP_FLAG_READ_FENCE, 0x00000002);
  EXPECT_EQ(NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT, 0x00000004);
  EXPECT_EQ(NDK_OP_FLAG_ALLOW_REMOTE_READ, 0x00000008);
  EXPECT_EQ(NDK_OP_FLAG_ALLOW_LOCAL_WRITE, 0x00000010);
  EXPECT_EQ(NDK_OP_FLAG_ALLOW_REMOTE_WRITE, 0x00000030);
  EXPECT_EQ(NDK_OP_FLAG_INLINE, 0x00000040);
  EXPECT_EQ(NDK_OP_FLAG_RDMA_READ_SINK, 0x00000080);
  EXPECT_EQ(NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE, 0x00000100);
  EXPECT_EQ(NDK_OP_FLAG_DEFER, 0x00000200);
  EXPECT_NE(NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE, NDK_OP_FLAG_DEFER);
  EXPECT_EQ(NDK_OP_FLAG_ALLOW_REMOTE_WRITE & NDK_OP_FLAG_ALLOW_LOCAL_WRITE,
            NDK_OP_FLAG_ALLOW_LOCAL_WRITE);
}

TEST(AbiValues, MrFlags) {  // 2.12.2
  EXPECT_EQ(NDK_MR_FLAG_ALLOW_LOCAL_READ, 0x00000000);
  EXPECT_EQ(NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x00000001);
  EXPECT_EQ(NDK_MR_FLAG_ALLOW_REMOTE_READ, 0x00000002);
  EXPECT_EQ(NDK_MR_FLAG_ALLOW_REMOTE_WRITE, 0x00000005);
  EXPECT_EQ(NDK_MR_FLAG_RDMA_READ_SINK, 0x00000008);
}

TEST(AbiValues, AdapterFlags) {  // 2.12.3
  EXPECT_EQ(NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED, 0x00000001);
  EXPECT_EQ(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED, 0x00000002);
  EXPECT_EQ(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED, 0x00000004);
  EXPECT_EQ(NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED, 0x00000008);
  EXPECT_EQ(NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED, 0x00000010);
  EXPECT_EQ(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, 0x00000100);
  EXPECT_EQ(NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED, 0x00010000);
  // The provider's default set (2.12.3 [D]).
  EXPECT_EQ(NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED | NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED |
                NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED |
                NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED |
                NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED |
                NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED |
                NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED,
            0x0001011F);
}

TEST(AbiValues, CqNotifyTypes) {  // 2.12.4
  EXPECT_EQ(NDK_CQ_NOTIFY_ERRORS, 0);
  EXPECT_EQ(NDK_CQ_NOTIFY_ANY, 1);
  EXPECT_EQ(NDK_CQ_NOTIFY_SOLICITED, 2);
}

TEST(AbiValues, OtherConstants) {  // 2.12.5, 7.1, 7.3
  EXPECT_EQ(u32(MAXULONG), 0xFFFFFFFFu);
  EXPECT_EQ(MAXUSHORT, 0xFFFF);
  EXPECT_EQ(PAGE_SIZE, 4096);
  EXPECT_EQ(PAGE_SHIFT, 12);
  EXPECT_EQ(OPENNDK_EPHEMERAL_PORT_FIRST, 49152);
  EXPECT_EQ(OPENNDK_EPHEMERAL_PORT_LAST, 65535);
  EXPECT_EQ(OPENNDK_MIN_FRMR_PAGE_COUNT, 16);
  EXPECT_EQ(TRUE, 1);
  EXPECT_EQ(FALSE, 0);
  EXPECT_EQ(PASSIVE_LEVEL, 0);
  EXPECT_EQ(APC_LEVEL, 1);
  EXPECT_EQ(DISPATCH_LEVEL, 2);
}

TEST(AbiValues, PageMacros) {  // 7.3
  const uintptr_t va = 0x12345678ABCull;
  EXPECT_EQ(BYTE_OFFSET(va), 0xABCu);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(PAGE_ALIGN(va)), 0x12345678000ull);
  EXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0x1000), 1u);
  EXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1FFF, 2), 2u);
  EXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1001, 0x1000), 2u);
  EXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0), 0u);
  EXPECT_EQ(BYTES_TO_PAGES(4097), 2u);
  EXPECT_EQ(ROUND_TO_PAGES(1), 4096u);
  static_assert(std::is_same_v<decltype(BYTE_OFFSET(va)), ULONG>);
}

TEST(AbiValues, MdlFlags) {  // 7.4
  EXPECT_EQ(MDL_MAPPED_TO_SYSTEM_VA, 0x0001);
  EXPECT_EQ(MDL_PAGES_LOCKED, 0x0002);
  EXPECT_EQ(MDL_SOURCE_IS_NONPAGED_POOL, 0x0004);
  EXPECT_EQ(MDL_ALLOCATED_FIXED_SIZE, 0x0008);
  EXPECT_EQ(MDL_PARTIAL, 0x0010);
  EXPECT_EQ(KernelMode, 0);
  EXPECT_EQ(UserMode, 1);
  EXPECT_EQ(IoReadAccess, 0);
  EXPECT_EQ(IoWriteAccess, 1);
  EXPECT_EQ(IoModifyAccess, 2);
  EXPECT_EQ(LowPagePriority, 0);
  EXPECT_EQ(NormalPagePriority, 16);
  EXPECT_EQ(HighPagePriority, 32);
  EXPECT_EQ(u32(MdlMappingNoWrite), 0x80000000u);
  EXPECT_EQ(MdlMappingNoExecute, 0x40000000);
}

// ---------------------------------------------------------------------------
// Status codes (2.13)
// ---------------------------------------------------------------------------

TEST(AbiValues, NtStatusCodes) {
  static_assert(std::is_same_v<decltype(STATUS_SUCCESS), NTSTATUS>);
  EXPECT_EQ(u32(STATUS_SUCCESS), 0x00000000u);
  EXPECT_EQ(u32(STATUS_PENDING), 0x00000103u);
  EXPECT_EQ(u32(STATUS_BUFFER_OVERFLOW), 0x80000005u);
  EXPECT_EQ(u32(STATUS_ACCESS_VIOLATION), 0xC0000005u);
  EXPECT_EQ(u32(STATUS_INVALID_PARAMETER), 0xC000000Du);
  EXPECT_EQ(u32(STATUS_BUFFER_TOO_SMALL), 0xC0000023u);
  EXPECT_EQ(u32(STATUS_INVALID_PARAMETER_MIX), 0xC0000030u);
  EXPECT_EQ(u32(STATUS_SHARING_VIOLATION), 0xC0000043u);
  EXPECT_EQ(u32(STATUS_INSUFFICIENT_RESOURCES), 0xC000009Au);
  EXPECT_EQ(u32(STATUS_IO_TIMEOUT), 0xC00000B5u);
  EXPECT_EQ(u32(STATUS_NOT_SUPPORTED), 0xC00000BBu);
  EXPECT_EQ(u32(STATUS_INTERNAL_ERROR), 0xC00000E5u);
  EXPECT_EQ(u32(STATUS_CANCELLED), 0xC0000120u);
  EXPECT_EQ(u32(STATUS_REMOTE_RESOURCES), 0xC000013Du);
  EXPECT_EQ(u32(STATUS_INVALID_ADDRESS), 0xC0000141u);
  EXPECT_EQ(u32(STATUS_TOO_MANY_ADDRESSES), 0xC0000209u);
  EXPECT_EQ(u32(STATUS_ADDRESS_ALREADY_EXISTS), 0xC000020Au);
  EXPECT_EQ(u32(STATUS_CONNECTION_REFUSED), 0xC0000236u);
  EXPECT_EQ(u32(STATUS_CONNECTION_INVALID), 0xC000023Au);
  EXPECT_EQ(u32(STATUS_NETWORK_UNREACHABLE), 0xC000023Cu);
  EXPECT_EQ(u32(STATUS_HOST_UNREACHABLE), 0xC000023Du);
  EXPECT_EQ(u32(STATUS_CONNECTION_ABORTED), 0xC0000241u);
  EXPECT_EQ(u32(STATUS_IMPLEMENTATION_LIMIT), 0xC000042Bu);
  // Additional standard codes.
  EXPECT_EQ(u32(STATUS_UNSUCCESSFUL), 0xC0000001u);
  EXPECT_EQ(u32(STATUS_NOT_IMPLEMENTED), 0xC0000002u);
  EXPECT_EQ(u32(STATUS_INVALID_HANDLE), 0xC0000008u);
  EXPECT_EQ(u32(STATUS_INVALID_DEVICE_REQUEST), 0xC0000010u);
  EXPECT_EQ(u32(STATUS_NO_MEMORY), 0xC0000017u);
  EXPECT_EQ(u32(STATUS_DEVICE_NOT_READY), 0xC00000A3u);
  EXPECT_EQ(u32(STATUS_INVALID_DEVICE_STATE), 0xC0000184u);
  EXPECT_EQ(u32(STATUS_NOT_FOUND), 0xC0000225u);
}

TEST(AbiValues, NdisStatusCodes) {
  static_assert(std::is_same_v<decltype(NDIS_STATUS_SUCCESS), NDIS_STATUS>);
  EXPECT_EQ(u32(NDIS_STATUS_SUCCESS), 0x00000000u);
  EXPECT_EQ(u32(NDIS_STATUS_PENDING), 0x00000103u);
  EXPECT_EQ(u32(NDIS_STATUS_BAD_VERSION), 0xC0010004u);
  EXPECT_EQ(u32(NDIS_STATUS_ADAPTER_NOT_READY), 0xC0010011u);
  EXPECT_EQ(u32(NDIS_STATUS_RESOURCES), 0xC000009Au);
  EXPECT_EQ(NDIS_STATUS_RESOURCES, STATUS_INSUFFICIENT_RESOURCES);
  EXPECT_EQ(u32(NDIS_STATUS_FAILURE), 0xC0000001u);
  EXPECT_EQ(u32(NDIS_STATUS_NOT_SUPPORTED), 0xC00000BBu);
  EXPECT_EQ(u32(NDIS_STATUS_INVALID_PARAMETER), 0xC000000Du);
  EXPECT_EQ(u32(NDIS_STATUS_ADAPTER_NOT_FOUND), 0xC0010006u);
  EXPECT_EQ(u32(NDIS_STATUS_INVALID_LENGTH), 0xC0010014u);
  EXPECT_EQ(u32(NDIS_STATUS_INVALID_DATA), 0xC0010015u);
  EXPECT_EQ(u32(NDIS_STATUS_BUFFER_TOO_SHORT), 0xC0010016u);
  EXPECT_EQ(u32(NDIS_STATUS_INVALID_OID), 0xC0010017u);
}

TEST(AbiValues, NtSuccessSemantics) {  // 2.13
  EXPECT_TRUE(NT_SUCCESS(STATUS_SUCCESS));
  EXPECT_TRUE(NT_SUCCESS(STATUS_PENDING));  // callers must test PENDING explicitly
  EXPECT_FALSE(NT_SUCCESS(STATUS_BUFFER_OVERFLOW));
  EXPECT_FALSE(NT_SUCCESS(STATUS_INVALID_PARAMETER));
  EXPECT_TRUE(NT_WARNING(STATUS_BUFFER_OVERFLOW));
  EXPECT_TRUE(NT_ERROR(STATUS_CANCELLED));
  EXPECT_FALSE(NT_ERROR(STATUS_PENDING));
  // Usable as case labels.
  switch (STATUS_CANCELLED) {
    case STATUS_SUCCESS:
    case STATUS_PENDING:
      FAIL();
      break;
    case STATUS_CANCELLED:
      SUCCEED();
      break;
    default:
      FAIL();
  }
}

// ---------------------------------------------------------------------------
// NDIS values (6.5-6.12)
// ---------------------------------------------------------------------------

TEST(AbiValues, Oids) {  // 6.8
  static_assert(OID_NDK_SET_STATE == 0xFC040201u);
  EXPECT_EQ(OID_NDK_SET_STATE, 0xFC040201u);
  EXPECT_EQ(OID_NDK_STATISTICS, 0xFC040202u);
  EXPECT_EQ(OID_NDK_CONNECTIONS, 0xFC040203u);
  EXPECT_EQ(OID_NDK_LOCAL_ENDPOINTS, 0xFC040204u);
  NDIS_OID oid = OID_NDK_LOCAL_ENDPOINTS;  // fits NDIS_OID without narrowing issues
  EXPECT_EQ(oid, 0xFC040204u);
}

TEST(AbiValues, NdisObjectHeaders) {  // 6.5-6.11, 7.7
  EXPECT_EQ(NDIS_OBJECT_TYPE_DEFAULT, 0x80);
  EXPECT_EQ(NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS, 0xB2);
  EXPECT_EQ(NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES, 0xB3);
  EXPECT_EQ(NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1, 1);
  EXPECT_EQ(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1, 1);
  EXPECT_EQ(NDIS_NDK_CAPABILITIES_REVISION_1, 1);
  EXPECT_EQ(NDIS_NDK_STATISTICS_INFO_REVISION_1, 1);
  EXPECT_EQ(NDIS_NDK_CONNECTIONS_REVISION_1, 1);
  EXPECT_EQ(NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1, 1);
  EXPECT_EQ(NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1, 24u);
  EXPECT_EQ(NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1, 16u);
  EXPECT_EQ(NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1, 56u);
  EXPECT_EQ(NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1, 248u);
  EXPECT_EQ(NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(0), 16u);
  EXPECT_EQ(NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(2), 16u + 2 * 64u);
  EXPECT_EQ(NDIS_SIZEOF_NDK_ENDPOINTS_REVISION_1(2), 16u + 2 * 36u);
  EXPECT_EQ(NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(5), 16u + 5 * 36u);
  // The spec's Header.Size formula caps at MAXUSHORT.
  ULONG big = NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(2000);
  EXPECT_EQ(static_cast<USHORT>(big < MAXUSHORT ? big : MAXUSHORT), MAXUSHORT);
}

TEST(AbiValues, Keywords) {  // 6.12
  EXPECT_STREQ(NETWORK_DIRECT_KEYWORD, "*NetworkDirect");
  EXPECT_STREQ(NETWORK_DIRECT_GLOBAL_FLAGS_KEYWORD, "*NetworkDirectGlobalFlags");
  EXPECT_EQ(NETWORK_DIRECT_GLOBAL_FLAGS_ALLOW_REMOTE_IP_SUBNET, 0x00000001);
  EXPECT_STREQ(OPENNDK_NETWORK_DIRECT_TECHNOLOGY_KEYWORD, "*NetworkDirectTechnology");
  EXPECT_STREQ(OPENNDK_NETWORK_DIRECT_ROCE_FRAME_SIZE_KEYWORD, "*NetworkDirectRoCEFrameSize");
}

// ---------------------------------------------------------------------------
// Socket addresses (7.5, R108)
// ---------------------------------------------------------------------------

TEST(AbiValues, SocketAddressesAreHostTypes) {
  static_assert(std::is_same_v<SOCKADDR, struct sockaddr>);
  static_assert(std::is_same_v<SOCKADDR_IN, struct sockaddr_in>);
  static_assert(std::is_same_v<SOCKADDR_IN6, struct sockaddr_in6>);
  static_assert(std::is_same_v<PSOCKADDR, struct sockaddr *>);
  static_assert(std::is_same_v<ADDRESS_FAMILY, sa_family_t>);
  static_assert(sizeof(SOCKADDR_INET) == 28 && alignof(SOCKADDR_INET) == 4);
  EXPECT_EQ(AF_INET, 2);
  EXPECT_EQ(AF_INET6, 10);  // Linux value; 23 on Windows (decision: host values)
  SOCKADDR_INET a{};
  a.Ipv6.sin6_family = AF_INET6;
  EXPECT_EQ(a.si_family, AF_INET6);
  a.Ipv4.sin_family = AF_INET;
  EXPECT_EQ(a.si_family, AF_INET);
}

// ---------------------------------------------------------------------------
// Dispatch tables: member order (index) and member type
// ---------------------------------------------------------------------------

#define EXPECT_MEMBER(T, m, idx, FN)                                        \
  do {                                                                      \
    static_assert(std::is_same_v<decltype(T::m), FN>, #T "." #m " type");   \
    static_assert(offsetof(T, m) == ((idx) - 1) * sizeof(void *), #T "." #m " index"); \
    EXPECT_EQ(offsetof(T, m) / sizeof(void *) + 1, static_cast<size_t>(idx)) << #T "." #m; \
  } while (0)

TEST(AbiDispatch, Adapter) {
  static_assert(sizeof(NDK_ADAPTER_DISPATCH) == 9 * sizeof(void *));
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkQueryExtension, 1, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkQueryAdapterInfo, 2, NDK_FN_QUERY_ADAPTER_INFO);
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkCreateCq, 3, NDK_FN_CREATE_CQ);
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkCreatePd, 4, NDK_FN_CREATE_PD);
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkCreateSharedEndpoint, 5, NDK_FN_CREATE_SHARED_ENDPOINT);
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkCreateConnector, 6, NDK_FN_CREATE_CONNECTOR);
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkCreateListener, 7, NDK_FN_CREATE_LISTENER);
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkBuildLAM, 8, NDK_FN_BUILD_LAM);
  EXPECT_MEMBER(NDK_ADAPTER_DISPATCH, NdkReleaseLAM, 9, NDK_FN_RELEASE_LAM);
}

TEST(AbiDispatch, Cq) {
  static_assert(sizeof(NDK_CQ_DISPATCH) == 7 * sizeof(void *));
  EXPECT_MEMBER(NDK_CQ_DISPATCH, NdkCloseCq, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_CQ_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_CQ_DISPATCH, NdkResizeCq, 3, NDK_FN_RESIZE_CQ);
  EXPECT_MEMBER(NDK_CQ_DISPATCH, NdkArmCq, 4, NDK_FN_ARM_CQ);
  EXPECT_MEMBER(NDK_CQ_DISPATCH, NdkGetCqResults, 5, NDK_FN_GET_CQ_RESULTS);
  EXPECT_MEMBER(NDK_CQ_DISPATCH, NdkControlCqInterruptModeration, 6,
                NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION);
  EXPECT_MEMBER(NDK_CQ_DISPATCH, NdkGetCqResultsEx, 7, NDK_FN_GET_CQ_RESULTS_EX);
}

TEST(AbiDispatch, Pd) {
  static_assert(sizeof(NDK_PD_DISPATCH) == 8 * sizeof(void *));
  EXPECT_MEMBER(NDK_PD_DISPATCH, NdkClosePd, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_PD_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_PD_DISPATCH, NdkCreateMr, 3, NDK_FN_CREATE_MR);
  EXPECT_MEMBER(NDK_PD_DISPATCH, NdkCreateMw, 4, NDK_FN_CREATE_MW);
  EXPECT_MEMBER(NDK_PD_DISPATCH, NdkCreateSrq, 5, NDK_FN_CREATE_SRQ);
  EXPECT_MEMBER(NDK_PD_DISPATCH, NdkCreateQp, 6, NDK_FN_CREATE_QP);
  EXPECT_MEMBER(NDK_PD_DISPATCH, NdkCreateQpWithSrq, 7, NDK_FN_CREATE_QP_WITH_SRQ);
  EXPECT_MEMBER(NDK_PD_DISPATCH, NdkGetPrivilegedMemoryRegionToken, 8,
                NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN);
}

TEST(AbiDispatch, Mr) {
  static_assert(sizeof(NDK_MR_DISPATCH) == 7 * sizeof(void *));
  EXPECT_MEMBER(NDK_MR_DISPATCH, NdkCloseMr, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_MR_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_MR_DISPATCH, NdkRegisterMr, 3, NDK_FN_REGISTER_MR);
  EXPECT_MEMBER(NDK_MR_DISPATCH, NdkDeregisterMr, 4, NDK_FN_DEREGISTER_MR);
  EXPECT_MEMBER(NDK_MR_DISPATCH, NdkInitializeFastRegisterMr, 5,
                NDK_FN_INITIALIZE_FAST_REGISTER_MR);
  EXPECT_MEMBER(NDK_MR_DISPATCH, NdkGetRemoteTokenFromMr, 6, NDK_FN_GET_REMOTE_TOKEN_FROM_MR);
  EXPECT_MEMBER(NDK_MR_DISPATCH, NdkGetLocalTokenFromMr, 7, NDK_FN_GET_LOCAL_TOKEN_FROM_MR);
}

TEST(AbiDispatch, Mw) {
  static_assert(sizeof(NDK_MW_DISPATCH) == 3 * sizeof(void *));
  EXPECT_MEMBER(NDK_MW_DISPATCH, NdkCloseMw, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_MW_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_MW_DISPATCH, NdkGetRemoteTokenFromMw, 3, NDK_FN_GET_REMOTE_TOKEN_FROM_MW);
}

TEST(AbiDispatch, Qp) {
  static_assert(sizeof(NDK_QP_DISPATCH) == 11 * sizeof(void *));
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkCloseQp, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkFlush, 3, NDK_FN_FLUSH);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkSend, 4, NDK_FN_SEND);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkReceive, 5, NDK_FN_RECEIVE);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkBind, 6, NDK_FN_BIND);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkFastRegister, 7, NDK_FN_FAST_REGISTER);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkInvalidate, 8, NDK_FN_INVALIDATE);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkRead, 9, NDK_FN_READ);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkWrite, 10, NDK_FN_WRITE);
  EXPECT_MEMBER(NDK_QP_DISPATCH, NdkSendAndInvalidate, 11, NDK_FN_SEND_AND_INVALIDATE);
}

TEST(AbiDispatch, Srq) {
  static_assert(sizeof(NDK_SRQ_DISPATCH) == 4 * sizeof(void *));
  EXPECT_MEMBER(NDK_SRQ_DISPATCH, NdkCloseSrq, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_SRQ_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_SRQ_DISPATCH, NdkModifySrq, 3, NDK_FN_MODIFY_SRQ);
  EXPECT_MEMBER(NDK_SRQ_DISPATCH, NdkSrqReceive, 4, NDK_FN_SRQ_RECEIVE);
}

TEST(AbiDispatch, Connector) {
  static_assert(sizeof(NDK_CONNECTOR_DISPATCH) == 13 * sizeof(void *));
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkCloseConnector, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkConnect, 3, NDK_FN_CONNECT);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkConnectWithSharedEndpoint, 4,
                NDK_FN_CONNECT_WITH_SHARED_ENDPOINT);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkCompleteConnect, 5, NDK_FN_COMPLETE_CONNECT);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkAccept, 6, NDK_FN_ACCEPT);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkReject, 7, NDK_FN_REJECT);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkGetConnectionData, 8, NDK_FN_GET_CONNECTION_DATA);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkGetLocalAddress, 9, NDK_FN_GET_LOCAL_ADDRESS);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkGetPeerAddress, 10, NDK_FN_GET_PEER_ADDRESS);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkDisconnect, 11, NDK_FN_DISCONNECT);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkCompleteConnectEx, 12, NDK_FN_COMPLETE_CONNECT_EX);
  EXPECT_MEMBER(NDK_CONNECTOR_DISPATCH, NdkAcceptEx, 13, NDK_FN_ACCEPT_EX);
}

TEST(AbiDispatch, Listener) {
  static_assert(sizeof(NDK_LISTENER_DISPATCH) == 5 * sizeof(void *));
  EXPECT_MEMBER(NDK_LISTENER_DISPATCH, NdkCloseListener, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_LISTENER_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_LISTENER_DISPATCH, NdkListen, 3, NDK_FN_LISTEN);
  EXPECT_MEMBER(NDK_LISTENER_DISPATCH, NdkGetLocalAddress, 4, NDK_FN_GET_LISTENER_LOCAL_ADDRESS);
  EXPECT_MEMBER(NDK_LISTENER_DISPATCH, NdkControlConnectEvents, 5, NDK_FN_CONTROL_CONNECT_EVENTS);
}

TEST(AbiDispatch, SharedEndpoint) {
  static_assert(sizeof(NDK_SHARED_ENDPOINT_DISPATCH) == 3 * sizeof(void *));
  EXPECT_MEMBER(NDK_SHARED_ENDPOINT_DISPATCH, NdkCloseSharedEndpoint, 1, NDK_FN_CLOSE_OBJECT);
  EXPECT_MEMBER(NDK_SHARED_ENDPOINT_DISPATCH, NdkQueryExtension, 2,
                NDK_FN_QUERY_EXTENSION_INTERFACE);
  EXPECT_MEMBER(NDK_SHARED_ENDPOINT_DISPATCH, NdkGetLocalAddress, 3,
                NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS);
}

TEST(AbiDispatch, ObjectsPointAtTheirTables) {  // 2.4
  static_assert(std::is_same_v<decltype(NDK_ADAPTER::Dispatch), const NDK_ADAPTER_DISPATCH *>);
  static_assert(std::is_same_v<decltype(NDK_CQ::Dispatch), const NDK_CQ_DISPATCH *>);
  static_assert(std::is_same_v<decltype(NDK_PD::Dispatch), const NDK_PD_DISPATCH *>);
  static_assert(std::is_same_v<decltype(NDK_MR::Dispatch), const NDK_MR_DISPATCH *>);
  static_assert(std::is_same_v<decltype(NDK_MW::Dispatch), const NDK_MW_DISPATCH *>);
  static_assert(std::is_same_v<decltype(NDK_QP::Dispatch), const NDK_QP_DISPATCH *>);
  static_assert(std::is_same_v<decltype(NDK_SRQ::Dispatch), const NDK_SRQ_DISPATCH *>);
  static_assert(
      std::is_same_v<decltype(NDK_CONNECTOR::Dispatch), const NDK_CONNECTOR_DISPATCH *>);
  static_assert(std::is_same_v<decltype(NDK_LISTENER::Dispatch), const NDK_LISTENER_DISPATCH *>);
  static_assert(std::is_same_v<decltype(NDK_SHARED_ENDPOINT::Dispatch),
                               const NDK_SHARED_ENDPOINT_DISPATCH *>);
  static_assert(std::is_standard_layout_v<NDK_QP> && std::is_trivially_copyable_v<NDK_QP>);
  static_assert(offsetof(NDK_QP, Header) == 0);
  SUCCEED();
}

// ---------------------------------------------------------------------------
// Exact parameter lists of every function type (3, 4, 6.2, 6.3).
// Top-level const on a parameter (const PSOCKADDR, const PVOID) is not part
// of a function type, so those are spelled without it.
// ---------------------------------------------------------------------------

template <typename A, typename B>
constexpr bool kSame = std::is_same_v<A, B>;

// 4 - consumer callbacks
static_assert(kSame<NDK_FN_CLOSE_COMPLETION, void (*)(PVOID)>);
static_assert(kSame<NDK_FN_CREATE_COMPLETION, void (*)(PVOID, NTSTATUS, NDK_OBJECT_HEADER *)>);
static_assert(kSame<NDK_FN_REQUEST_COMPLETION, void (*)(PVOID, NTSTATUS)>);
static_assert(kSame<NDK_FN_CQ_NOTIFICATION_CALLBACK, void (*)(PVOID, NTSTATUS)>);
static_assert(kSame<NDK_FN_SRQ_NOTIFICATION_CALLBACK, void (*)(PVOID, NTSTATUS)>);
static_assert(kSame<NDK_FN_CONNECT_EVENT_CALLBACK, void (*)(PVOID, NDK_CONNECTOR *)>);
static_assert(kSame<NDK_FN_DISCONNECT_EVENT_CALLBACK, void (*)(PVOID)>);
static_assert(kSame<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, void (*)(PVOID, ULONG)>);

// 3.0
static_assert(kSame<NDK_FN_CLOSE_OBJECT,
                    NTSTATUS (*)(NDK_OBJECT_HEADER *, NDK_FN_CLOSE_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_QUERY_EXTENSION_INTERFACE,
                    NTSTATUS (*)(NDK_OBJECT_HEADER *, GUID *, NDK_VERSION,
                                 NDK_EXTENSION_INTERFACE *)>);
// 3.1
static_assert(kSame<NDK_FN_QUERY_ADAPTER_INFO,
                    NTSTATUS (*)(NDK_ADAPTER *, NDK_ADAPTER_INFO *, ULONG *)>);
static_assert(kSame<NDK_FN_CREATE_CQ,
                    NTSTATUS (*)(NDK_ADAPTER *, ULONG, NDK_FN_CQ_NOTIFICATION_CALLBACK, PVOID,
                                 GROUP_AFFINITY *, NDK_FN_CREATE_COMPLETION, PVOID, NDK_CQ **)>);
static_assert(kSame<NDK_FN_CREATE_PD,
                    NTSTATUS (*)(NDK_ADAPTER *, NDK_FN_CREATE_COMPLETION, PVOID, NDK_PD **)>);
static_assert(kSame<NDK_FN_CREATE_SHARED_ENDPOINT,
                    NTSTATUS (*)(NDK_ADAPTER *, PSOCKADDR, ULONG, NDK_FN_CREATE_COMPLETION, PVOID,
                                 NDK_SHARED_ENDPOINT **)>);
static_assert(kSame<NDK_FN_CREATE_CONNECTOR,
                    NTSTATUS (*)(NDK_ADAPTER *, NDK_FN_CREATE_COMPLETION, PVOID,
                                 NDK_CONNECTOR **)>);
static_assert(kSame<NDK_FN_CREATE_LISTENER,
                    NTSTATUS (*)(NDK_ADAPTER *, NDK_FN_CONNECT_EVENT_CALLBACK, PVOID,
                                 NDK_FN_CREATE_COMPLETION, PVOID, NDK_LISTENER **)>);
static_assert(kSame<NDK_FN_BUILD_LAM,
                    NTSTATUS (*)(NDK_ADAPTER *, MDL *, SIZE_T, NDK_FN_REQUEST_COMPLETION, PVOID,
                                 NDK_LOGICAL_ADDRESS_MAPPING *, ULONG *, ULONG *)>);
static_assert(kSame<NDK_FN_RELEASE_LAM, void (*)(NDK_ADAPTER *, NDK_LOGICAL_ADDRESS_MAPPING *)>);
// 3.2
static_assert(kSame<NDK_FN_RESIZE_CQ,
                    NTSTATUS (*)(NDK_CQ *, ULONG, NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_ARM_CQ, void (*)(NDK_CQ *, ULONG)>);
static_assert(kSame<NDK_FN_GET_CQ_RESULTS, ULONG (*)(NDK_CQ *, NDK_RESULT *, ULONG)>);
static_assert(kSame<NDK_FN_GET_CQ_RESULTS_EX, ULONG (*)(NDK_CQ *, NDK_RESULT_EX *, ULONG)>);
static_assert(kSame<NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION, NTSTATUS (*)(NDK_CQ *, ULONG, ULONG)>);
// 3.3
static_assert(kSame<NDK_FN_CREATE_MR,
                    NTSTATUS (*)(NDK_PD *, BOOLEAN, NDK_FN_CREATE_COMPLETION, PVOID, NDK_MR **)>);
static_assert(kSame<NDK_FN_CREATE_MW,
                    NTSTATUS (*)(NDK_PD *, NDK_FN_CREATE_COMPLETION, PVOID, NDK_MW **)>);
static_assert(kSame<NDK_FN_CREATE_SRQ,
                    NTSTATUS (*)(NDK_PD *, ULONG, ULONG, ULONG, NDK_FN_SRQ_NOTIFICATION_CALLBACK,
                                 PVOID, GROUP_AFFINITY *, NDK_FN_CREATE_COMPLETION, PVOID,
                                 NDK_SRQ **)>);
static_assert(kSame<NDK_FN_CREATE_QP,
                    NTSTATUS (*)(NDK_PD *, NDK_CQ *, NDK_CQ *, PVOID, ULONG, ULONG, ULONG, ULONG,
                                 ULONG, NDK_FN_CREATE_COMPLETION, PVOID, NDK_QP **)>);
static_assert(kSame<NDK_FN_CREATE_QP_WITH_SRQ,
                    NTSTATUS (*)(NDK_PD *, NDK_CQ *, NDK_CQ *, NDK_SRQ *, PVOID, ULONG, ULONG,
                                 ULONG, NDK_FN_CREATE_COMPLETION, PVOID, NDK_QP **)>);
static_assert(kSame<NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN, void (*)(NDK_PD *, UINT32 *)>);
// 3.4
static_assert(kSame<NDK_FN_REGISTER_MR,
                    NTSTATUS (*)(NDK_MR *, MDL *, SIZE_T, ULONG, NDK_FN_REQUEST_COMPLETION,
                                 PVOID)>);
static_assert(kSame<NDK_FN_DEREGISTER_MR,
                    NTSTATUS (*)(NDK_MR *, NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_INITIALIZE_FAST_REGISTER_MR,
                    NTSTATUS (*)(NDK_MR *, ULONG, BOOLEAN, NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_GET_REMOTE_TOKEN_FROM_MR, UINT32 (*)(NDK_MR *)>);
static_assert(kSame<NDK_FN_GET_LOCAL_TOKEN_FROM_MR, UINT32 (*)(NDK_MR *)>);
// 3.5
static_assert(kSame<NDK_FN_GET_REMOTE_TOKEN_FROM_MW, UINT32 (*)(NDK_MW *)>);
// 3.6
static_assert(kSame<NDK_FN_FLUSH, void (*)(NDK_QP *)>);
static_assert(kSame<NDK_FN_SEND, NTSTATUS (*)(NDK_QP *, PVOID, const NDK_SGE *, ULONG, ULONG)>);
static_assert(kSame<NDK_FN_RECEIVE, NTSTATUS (*)(NDK_QP *, PVOID, const NDK_SGE *, ULONG)>);
static_assert(kSame<NDK_FN_BIND,
                    NTSTATUS (*)(NDK_QP *, PVOID, NDK_MR *, NDK_MW *, PVOID, SIZE_T, ULONG)>);
static_assert(kSame<NDK_FN_FAST_REGISTER,
                    NTSTATUS (*)(NDK_QP *, PVOID, NDK_MR *, ULONG, const NDK_LOGICAL_ADDRESS *,
                                 ULONG, SIZE_T, PVOID, ULONG)>);
static_assert(kSame<NDK_FN_INVALIDATE,
                    NTSTATUS (*)(NDK_QP *, PVOID, NDK_OBJECT_HEADER *, ULONG)>);
static_assert(kSame<NDK_FN_READ, NTSTATUS (*)(NDK_QP *, PVOID, const NDK_SGE *, ULONG, UINT64,
                                              UINT32, ULONG)>);
static_assert(kSame<NDK_FN_WRITE, NTSTATUS (*)(NDK_QP *, PVOID, const NDK_SGE *, ULONG, UINT64,
                                               UINT32, ULONG)>);
static_assert(kSame<NDK_FN_SEND_AND_INVALIDATE,
                    NTSTATUS (*)(NDK_QP *, PVOID, const NDK_SGE *, ULONG, ULONG, UINT32)>);
// 3.7
static_assert(kSame<NDK_FN_MODIFY_SRQ,
                    NTSTATUS (*)(NDK_SRQ *, ULONG, ULONG, NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_SRQ_RECEIVE, NTSTATUS (*)(NDK_SRQ *, PVOID, const NDK_SGE *, ULONG)>);
// 3.8
static_assert(kSame<NDK_FN_CONNECT,
                    NTSTATUS (*)(NDK_CONNECTOR *, NDK_QP *, PSOCKADDR, ULONG, PSOCKADDR, ULONG,
                                 ULONG, ULONG, PVOID, ULONG, NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_CONNECT_WITH_SHARED_ENDPOINT,
                    NTSTATUS (*)(NDK_CONNECTOR *, NDK_QP *, NDK_SHARED_ENDPOINT *, PSOCKADDR,
                                 ULONG, ULONG, ULONG, PVOID, ULONG, NDK_FN_REQUEST_COMPLETION,
                                 PVOID)>);
static_assert(kSame<NDK_FN_COMPLETE_CONNECT,
                    NTSTATUS (*)(NDK_CONNECTOR *, NDK_FN_DISCONNECT_EVENT_CALLBACK, PVOID,
                                 NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_ACCEPT,
                    NTSTATUS (*)(NDK_CONNECTOR *, NDK_QP *, ULONG, ULONG, PVOID, ULONG,
                                 NDK_FN_DISCONNECT_EVENT_CALLBACK, PVOID,
                                 NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_REJECT, NTSTATUS (*)(NDK_CONNECTOR *, PVOID, ULONG)>);
static_assert(kSame<NDK_FN_GET_CONNECTION_DATA,
                    NTSTATUS (*)(NDK_CONNECTOR *, ULONG *, ULONG *, PVOID, ULONG *)>);
static_assert(kSame<NDK_FN_GET_LOCAL_ADDRESS, NTSTATUS (*)(NDK_CONNECTOR *, PSOCKADDR, ULONG *)>);
static_assert(kSame<NDK_FN_GET_PEER_ADDRESS, NTSTATUS (*)(NDK_CONNECTOR *, PSOCKADDR, ULONG *)>);
static_assert(kSame<NDK_FN_DISCONNECT,
                    NTSTATUS (*)(NDK_CONNECTOR *, NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_COMPLETE_CONNECT_EX,
                    NTSTATUS (*)(NDK_CONNECTOR *, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, PVOID,
                                 NDK_FN_REQUEST_COMPLETION, PVOID)>);
static_assert(kSame<NDK_FN_ACCEPT_EX,
                    NTSTATUS (*)(NDK_CONNECTOR *, NDK_QP *, ULONG, ULONG, PVOID, ULONG,
                                 NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, PVOID,
                                 NDK_FN_REQUEST_COMPLETION, PVOID)>);
// 3.9
static_assert(kSame<NDK_FN_LISTEN,
                    NTSTATUS (*)(NDK_LISTENER *, PSOCKADDR, ULONG, NDK_FN_REQUEST_COMPLETION,
                                 PVOID)>);
static_assert(kSame<NDK_FN_GET_LISTENER_LOCAL_ADDRESS,
                    NTSTATUS (*)(NDK_LISTENER *, PSOCKADDR, ULONG *)>);
static_assert(kSame<NDK_FN_CONTROL_CONNECT_EVENTS, void (*)(NDK_LISTENER *, BOOLEAN)>);
// 3.10
static_assert(kSame<NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS,
                    NTSTATUS (*)(NDK_SHARED_ENDPOINT *, PSOCKADDR, ULONG *)>);
// 6.2, 6.3
static_assert(kSame<OPEN_NDK_ADAPTER_HANDLER,
                    NDIS_STATUS (*)(NDIS_HANDLE, NDIS_OPEN_NDK_ADAPTER_PARAMETERS *,
                                    NDK_ADAPTER **)>);
static_assert(kSame<CLOSE_NDK_ADAPTER_HANDLER, void (*)(NDIS_HANDLE, NDK_ADAPTER *)>);

// OpenNDK host entry points (ndk/ndk.h) and kernel shim (ndk/mdl.h).
static_assert(kSame<decltype(&OpenNdkOpenAdapter),
                    NTSTATUS (*)(NET_IFINDEX, const NDIS_OPEN_NDK_ADAPTER_PARAMETERS *,
                                 NDK_ADAPTER **)>);
static_assert(kSame<decltype(&OpenNdkCloseAdapter), void (*)(NDK_ADAPTER *)>);
static_assert(kSame<decltype(&OpenNdkQueryInterfaceOid),
                    NDIS_STATUS (*)(NET_IFINDEX, NDIS_OID, PVOID, ULONG, ULONG *, ULONG *)>);
static_assert(kSame<decltype(&OpenNdkSetInterfaceOid),
                    NDIS_STATUS (*)(NET_IFINDEX, NDIS_OID, PVOID, ULONG, ULONG *, ULONG *)>);
static_assert(kSame<decltype(&OpenNdkEnumerateInterfaces), ULONG (*)(NET_IFINDEX *, ULONG)>);
static_assert(kSame<decltype(&IoAllocateMdl), PMDL (*)(PVOID, ULONG, BOOLEAN, BOOLEAN, PIRP)>);
static_assert(kSame<decltype(&IoFreeMdl), void (*)(PMDL)>);
static_assert(kSame<decltype(&MmBuildMdlForNonPagedPool), void (*)(PMDL)>);
static_assert(kSame<decltype(&MmProbeAndLockPages),
                    void (*)(PMDL, KPROCESSOR_MODE, LOCK_OPERATION)>);
static_assert(kSame<decltype(&MmUnlockPages), void (*)(PMDL)>);
static_assert(kSame<decltype(&IoBuildPartialMdl), void (*)(PMDL, PMDL, PVOID, ULONG)>);

TEST(AbiTypes, ScalarWidths) {  // 7.1
  static_assert(kSame<ULONG, uint32_t> && kSame<LONG, int32_t>);
  static_assert(kSame<USHORT, uint16_t> && kSame<UCHAR, uint8_t>);
  static_assert(kSame<BOOLEAN, UCHAR>);
  static_assert(kSame<NTSTATUS, LONG> && kSame<NDIS_STATUS, LONG>);
  static_assert(kSame<ULONG64, uint64_t> && kSame<UINT64, uint64_t>);
  static_assert(sizeof(ULONG_PTR) == 8 && sizeof(SIZE_T) == 8 && sizeof(KAFFINITY) == 8);
  static_assert(kSame<KAFFINITY, ULONG_PTR> && kSame<PFN_NUMBER, ULONG_PTR>);
  static_assert(kSame<NDK_LOGICAL_ADDRESS, PHYSICAL_ADDRESS>);
  static_assert(kSame<PHYSICAL_ADDRESS, LARGE_INTEGER>);
  static_assert(kSame<NDIS_HANDLE, PVOID> && kSame<NET_IFINDEX, ULONG>);
  static_assert(kSame<decltype(NDK_EXTENSION_INTERFACE::Dispatch), const void *>);
  LARGE_INTEGER li{};
  li.QuadPart = 0x1122334455667788ll;
  EXPECT_EQ(li.LowPart, 0x55667788u);
  EXPECT_EQ(li.HighPart, 0x11223344);
  EXPECT_EQ(li.u.LowPart, 0x55667788u);
  NDK_SGE sge{};
  sge.LogicalAddress.QuadPart = 0x1000;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(sge.VirtualAddress), 0x1000u);
}

}  // namespace
