/*
 * tests/abi/abi_layout_c.c - LP64 layout of every structure and dispatch
 * table of the OpenNDK C ABI, checked from C11.
 *
 * Expected values: the layout notes of NDKPI.md (2.3, 2.4, 2.6-2.9, 6.4-6.11,
 * 7.1-7.7) where the spec prints them; otherwise computed by hand from the
 * member types with LP64 alignment rules (written next to each check).
 * Each check is a _Static_assert (the build fails on a mismatch) and a
 * runtime comparison that is printed; build with -DABI_RUNTIME_ONLY to see
 * every mismatch at once instead of the first compile error.
 */
#include <ndk/ndk.h>

#include <stdio.h>

#ifdef ABI_RUNTIME_ONLY
#define STATIC_CHECK(cond, msg) ((void)0)
#else
#define STATIC_CHECK(cond, msg) _Static_assert(cond, msg)
#endif

static int g_checks;
static int g_failures;

static void check_eq(const char *what, unsigned long long actual, unsigned long long expected) {
  ++g_checks;
  if (actual != expected) {
    ++g_failures;
    printf("FAIL %s: got %llu, expected %llu\n", what, actual, expected);
  }
}

#define SIZE(T, n)                                             \
  do {                                                         \
    STATIC_CHECK(sizeof(T) == (n), "sizeof(" #T ") != " #n);   \
    check_eq("sizeof(" #T ")", sizeof(T), (n));                \
  } while (0)

#define ALIGN(T, n)                                              \
  do {                                                           \
    STATIC_CHECK(_Alignof(T) == (n), "_Alignof(" #T ") != " #n); \
    check_eq("_Alignof(" #T ")", _Alignof(T), (n));              \
  } while (0)

#define OFF(T, m, n)                                                    \
  do {                                                                  \
    STATIC_CHECK(offsetof(T, m) == (n), "offsetof(" #T ", " #m ") != " #n); \
    check_eq("offsetof(" #T ", " #m ")", offsetof(T, m), (n));          \
  } while (0)

/* Member m of type FN is the idx-th (1-based, as in the spec's tables)
 * pointer of dispatch table T. */
#define DISPATCH(T, m, idx, FN)                                                    \
  do {                                                                             \
    OFF(T, m, ((idx) - 1) * 8);                                                    \
    STATIC_CHECK(_Generic(((T *)0)->m, FN: 1, default: 0), #T "." #m " is not " #FN); \
    check_eq(#T "." #m " is " #FN, _Generic(((T *)0)->m, FN: 1, default: 0), 1);   \
  } while (0)

/* Type T is exactly type U. */
#define SAME(T, U)                                                            \
  do {                                                                        \
    STATIC_CHECK(_Generic((T *)0, U *: 1, default: 0), #T " is not " #U);     \
    check_eq(#T " is " #U, _Generic((T *)0, U *: 1, default: 0), 1);          \
  } while (0)

static void scalars(void) {
  /* 7.1: LLP64 widths on LP64. */
  SIZE(CHAR, 1);
  SIZE(UCHAR, 1);
  SIZE(BOOLEAN, 1);
  SIZE(USHORT, 2);
  SIZE(CSHORT, 2);
  SIZE(ULONG, 4);
  SIZE(LONG, 4);
  SIZE(UINT32, 4);
  SIZE(UINT64, 8);
  SIZE(ULONG64, 8);
  SIZE(LONGLONG, 8);
  SIZE(ULONG_PTR, 8);
  SIZE(SIZE_T, 8);
  SIZE(KAFFINITY, 8);
  SIZE(PFN_NUMBER, 8);
  SIZE(PVOID, 8);
  SIZE(NTSTATUS, 4);
  SIZE(NDIS_STATUS, 4);
  SIZE(NDIS_HANDLE, 8);
  SIZE(NDIS_OID, 4);
  SIZE(NDIS_NIC_SWITCH_ID, 4);
  SIZE(NDIS_NIC_SWITCH_VPORT_ID, 4);
  SIZE(NET_IFINDEX, 4);
  SIZE(ADDRESS_FAMILY, 2);
  SAME(ULONG, uint32_t);
  SAME(LONG, int32_t);
  SAME(BOOLEAN, unsigned char);
  SAME(NTSTATUS, int32_t);
  SAME(NDIS_STATUS, int32_t);
  SAME(ADDRESS_FAMILY, sa_family_t);
  /* Enums are int-sized. */
  SIZE(NDK_OBJECT_TYPE, 4);
  SIZE(NDK_OPERATION_TYPE, 4);
  SIZE(NDK_RDMA_TECHNOLOGY, 4);
  /* 7.3 */
  check_eq("PAGE_SIZE", PAGE_SIZE, 4096);
  check_eq("PAGE_SHIFT", PAGE_SHIFT, 12);
  STATIC_CHECK(PAGE_SIZE == 4096 && (1 << PAGE_SHIFT) == PAGE_SIZE, "PAGE_SIZE");
}

static void kernel_types(void) {
  /* GUID: ULONG, USHORT, USHORT, UCHAR[8] */
  SIZE(GUID, 16);
  OFF(GUID, Data1, 0);
  OFF(GUID, Data2, 4);
  OFF(GUID, Data3, 6);
  OFF(GUID, Data4, 8);
  /* 7.2 */
  SIZE(LARGE_INTEGER, 8);
  ALIGN(LARGE_INTEGER, 8);
  OFF(LARGE_INTEGER, LowPart, 0);
  OFF(LARGE_INTEGER, HighPart, 4);
  OFF(LARGE_INTEGER, QuadPart, 0);
  SIZE(PHYSICAL_ADDRESS, 8);
  SIZE(NDK_LOGICAL_ADDRESS, 8);
  /* 7.6 */
  SIZE(GROUP_AFFINITY, 16);
  OFF(GROUP_AFFINITY, Mask, 0);
  OFF(GROUP_AFFINITY, Group, 8);
  OFF(GROUP_AFFINITY, Reserved, 10);
  /* 7.4 */
  SIZE(MDL, 48);
  ALIGN(MDL, 8);
  OFF(MDL, Next, 0);
  OFF(MDL, Size, 8);
  OFF(MDL, MdlFlags, 10);
  OFF(MDL, Process, 16);
  OFF(MDL, MappedSystemVa, 24);
  OFF(MDL, StartVa, 32);
  OFF(MDL, ByteCount, 40);
  OFF(MDL, ByteOffset, 44);
  /* 7.5 */
  SIZE(SOCKADDR, 16);
  OFF(SOCKADDR, sa_family, 0);
  OFF(SOCKADDR, sa_data, 2);
  SIZE(SOCKADDR_IN, 16);
  OFF(SOCKADDR_IN, sin_family, 0);
  OFF(SOCKADDR_IN, sin_port, 2);
  OFF(SOCKADDR_IN, sin_addr, 4);
  OFF(SOCKADDR_IN, sin_zero, 8);
  SIZE(SOCKADDR_IN6, 28);
  OFF(SOCKADDR_IN6, sin6_family, 0);
  OFF(SOCKADDR_IN6, sin6_port, 2);
  OFF(SOCKADDR_IN6, sin6_flowinfo, 4);
  OFF(SOCKADDR_IN6, sin6_addr, 8);
  OFF(SOCKADDR_IN6, sin6_scope_id, 24);
  SIZE(SOCKADDR_INET, 28);
  ALIGN(SOCKADDR_INET, 4);
  OFF(SOCKADDR_INET, Ipv4, 0);
  OFF(SOCKADDR_INET, Ipv6, 0);
  OFF(SOCKADDR_INET, si_family, 0);
  /* 7.7 */
  SIZE(NDIS_OBJECT_HEADER, 4);
  OFF(NDIS_OBJECT_HEADER, Type, 0);
  OFF(NDIS_OBJECT_HEADER, Revision, 1);
  OFF(NDIS_OBJECT_HEADER, Size, 2);
}

static void ndk_types(void) {
  /* 2.1 */
  SIZE(NDK_VERSION, 4);
  OFF(NDK_VERSION, Major, 0);
  OFF(NDK_VERSION, Minor, 2);
  /* 2.3 */
  SIZE(NDK_OBJECT_HEADER_RESERVED_BLOCK, 32);
  OFF(NDK_OBJECT_HEADER_RESERVED_BLOCK, rf, 0);
  SIZE(NDK_OBJECT_HEADER, 40);
  ALIGN(NDK_OBJECT_HEADER, 8);
  OFF(NDK_OBJECT_HEADER, Version, 0);
  OFF(NDK_OBJECT_HEADER, ObjectType, 4);
  OFF(NDK_OBJECT_HEADER, NdkReserved, 8);
  /* 2.4: every object = header (40) + dispatch pointer (8). */
#define OBJECT(T)            \
  SIZE(T, 48);               \
  OFF(T, Header, 0);         \
  OFF(T, Dispatch, 40)
  OBJECT(NDK_ADAPTER);
  OBJECT(NDK_CQ);
  OBJECT(NDK_PD);
  OBJECT(NDK_MR);
  OBJECT(NDK_MW);
  OBJECT(NDK_QP);
  OBJECT(NDK_SRQ);
  OBJECT(NDK_CONNECTOR);
  OBJECT(NDK_LISTENER);
  OBJECT(NDK_SHARED_ENDPOINT);
#undef OBJECT
  /* 2.6 */
  SIZE(NDK_SGE, 16);
  OFF(NDK_SGE, VirtualAddress, 0);
  OFF(NDK_SGE, LogicalAddress, 0);
  OFF(NDK_SGE, Length, 8);
  OFF(NDK_SGE, MemoryRegionToken, 12);
  /* 2.7 */
  SIZE(NDK_RESULT, 24);
  OFF(NDK_RESULT, Status, 0);
  OFF(NDK_RESULT, BytesTransferred, 4);
  OFF(NDK_RESULT, QPContext, 8);
  OFF(NDK_RESULT, RequestContext, 16);
  SIZE(NDK_RESULT_EX, 40);
  OFF(NDK_RESULT_EX, Status, 0);
  OFF(NDK_RESULT_EX, BytesTransferred, 4);
  OFF(NDK_RESULT_EX, QPContext, 8);
  OFF(NDK_RESULT_EX, RequestContext, 16);
  OFF(NDK_RESULT_EX, Type, 24);
  OFF(NDK_RESULT_EX, ProviderErrorCode, 28);
  OFF(NDK_RESULT_EX, TypeSpecificCompletionOutput, 32);
  /* 2.8: header 16 + 8 per page */
  SIZE(NDK_LOGICAL_ADDRESS_MAPPING, 24);
  OFF(NDK_LOGICAL_ADDRESS_MAPPING, AdapterContext, 0);
  OFF(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageCount, 8);
  OFF(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray, 16);
  check_eq("OPENNDK_LAM_SIZE(0)", OPENNDK_LAM_SIZE(0), 16);
  check_eq("OPENNDK_LAM_SIZE(5)", OPENNDK_LAM_SIZE(5), 56);
  /* 2.9 */
  SIZE(NDK_ADAPTER_INFO, 104);
  OFF(NDK_ADAPTER_INFO, Version, 0);
  OFF(NDK_ADAPTER_INFO, VendorId, 4);
  OFF(NDK_ADAPTER_INFO, DeviceId, 8);
  OFF(NDK_ADAPTER_INFO, MaxRegistrationSize, 16);
  OFF(NDK_ADAPTER_INFO, MaxWindowSize, 24);
  OFF(NDK_ADAPTER_INFO, FRMRPageCount, 32);
  OFF(NDK_ADAPTER_INFO, MaxInitiatorRequestSge, 36);
  OFF(NDK_ADAPTER_INFO, MaxReceiveRequestSge, 40);
  OFF(NDK_ADAPTER_INFO, MaxReadRequestSge, 44);
  OFF(NDK_ADAPTER_INFO, MaxTransferLength, 48);
  OFF(NDK_ADAPTER_INFO, MaxInlineDataSize, 52);
  OFF(NDK_ADAPTER_INFO, MaxInboundReadLimit, 56);
  OFF(NDK_ADAPTER_INFO, MaxOutboundReadLimit, 60);
  OFF(NDK_ADAPTER_INFO, MaxReceiveQueueDepth, 64);
  OFF(NDK_ADAPTER_INFO, MaxInitiatorQueueDepth, 68);
  OFF(NDK_ADAPTER_INFO, MaxSrqDepth, 72);
  OFF(NDK_ADAPTER_INFO, MaxCqDepth, 76);
  OFF(NDK_ADAPTER_INFO, LargeRequestThreshold, 80);
  OFF(NDK_ADAPTER_INFO, MaxCallerData, 84);
  OFF(NDK_ADAPTER_INFO, MaxCalleeData, 88);
  OFF(NDK_ADAPTER_INFO, AdapterFlags, 92);
  OFF(NDK_ADAPTER_INFO, RdmaTechnology, 96);
  /* 2.11 */
  SIZE(NDK_EXTENSION_INTERFACE, 8);
  OFF(NDK_EXTENSION_INTERFACE, Dispatch, 0);
}

static void dispatch_tables(void) {
  /* 3.1 */
  SIZE(NDK_ADAPTER_DISPATCH, 9 * 8);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkQueryExtension, 1, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkQueryAdapterInfo, 2, NDK_FN_QUERY_ADAPTER_INFO);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkCreateCq, 3, NDK_FN_CREATE_CQ);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkCreatePd, 4, NDK_FN_CREATE_PD);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkCreateSharedEndpoint, 5, NDK_FN_CREATE_SHARED_ENDPOINT);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkCreateConnector, 6, NDK_FN_CREATE_CONNECTOR);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkCreateListener, 7, NDK_FN_CREATE_LISTENER);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkBuildLAM, 8, NDK_FN_BUILD_LAM);
  DISPATCH(NDK_ADAPTER_DISPATCH, NdkReleaseLAM, 9, NDK_FN_RELEASE_LAM);
  /* 3.2 */
  SIZE(NDK_CQ_DISPATCH, 7 * 8);
  DISPATCH(NDK_CQ_DISPATCH, NdkCloseCq, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_CQ_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_CQ_DISPATCH, NdkResizeCq, 3, NDK_FN_RESIZE_CQ);
  DISPATCH(NDK_CQ_DISPATCH, NdkArmCq, 4, NDK_FN_ARM_CQ);
  DISPATCH(NDK_CQ_DISPATCH, NdkGetCqResults, 5, NDK_FN_GET_CQ_RESULTS);
  DISPATCH(NDK_CQ_DISPATCH, NdkControlCqInterruptModeration, 6,
           NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION);
  DISPATCH(NDK_CQ_DISPATCH, NdkGetCqResultsEx, 7, NDK_FN_GET_CQ_RESULTS_EX);
  /* 3.3 */
  SIZE(NDK_PD_DISPATCH, 8 * 8);
  DISPATCH(NDK_PD_DISPATCH, NdkClosePd, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_PD_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_PD_DISPATCH, NdkCreateMr, 3, NDK_FN_CREATE_MR);
  DISPATCH(NDK_PD_DISPATCH, NdkCreateMw, 4, NDK_FN_CREATE_MW);
  DISPATCH(NDK_PD_DISPATCH, NdkCreateSrq, 5, NDK_FN_CREATE_SRQ);
  DISPATCH(NDK_PD_DISPATCH, NdkCreateQp, 6, NDK_FN_CREATE_QP);
  DISPATCH(NDK_PD_DISPATCH, NdkCreateQpWithSrq, 7, NDK_FN_CREATE_QP_WITH_SRQ);
  DISPATCH(NDK_PD_DISPATCH, NdkGetPrivilegedMemoryRegionToken, 8,
           NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN);
  /* 3.4 */
  SIZE(NDK_MR_DISPATCH, 7 * 8);
  DISPATCH(NDK_MR_DISPATCH, NdkCloseMr, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_MR_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_MR_DISPATCH, NdkRegisterMr, 3, NDK_FN_REGISTER_MR);
  DISPATCH(NDK_MR_DISPATCH, NdkDeregisterMr, 4, NDK_FN_DEREGISTER_MR);
  DISPATCH(NDK_MR_DISPATCH, NdkInitializeFastRegisterMr, 5, NDK_FN_INITIALIZE_FAST_REGISTER_MR);
  DISPATCH(NDK_MR_DISPATCH, NdkGetRemoteTokenFromMr, 6, NDK_FN_GET_REMOTE_TOKEN_FROM_MR);
  DISPATCH(NDK_MR_DISPATCH, NdkGetLocalTokenFromMr, 7, NDK_FN_GET_LOCAL_TOKEN_FROM_MR);
  /* 3.5 */
  SIZE(NDK_MW_DISPATCH, 3 * 8);
  DISPATCH(NDK_MW_DISPATCH, NdkCloseMw, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_MW_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_MW_DISPATCH, NdkGetRemoteTokenFromMw, 3, NDK_FN_GET_REMOTE_TOKEN_FROM_MW);
  /* 3.6 */
  SIZE(NDK_QP_DISPATCH, 11 * 8);
  DISPATCH(NDK_QP_DISPATCH, NdkCloseQp, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_QP_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_QP_DISPATCH, NdkFlush, 3, NDK_FN_FLUSH);
  DISPATCH(NDK_QP_DISPATCH, NdkSend, 4, NDK_FN_SEND);
  DISPATCH(NDK_QP_DISPATCH, NdkReceive, 5, NDK_FN_RECEIVE);
  DISPATCH(NDK_QP_DISPATCH, NdkBind, 6, NDK_FN_BIND);
  DISPATCH(NDK_QP_DISPATCH, NdkFastRegister, 7, NDK_FN_FAST_REGISTER);
  DISPATCH(NDK_QP_DISPATCH, NdkInvalidate, 8, NDK_FN_INVALIDATE);
  DISPATCH(NDK_QP_DISPATCH, NdkRead, 9, NDK_FN_READ);
  DISPATCH(NDK_QP_DISPATCH, NdkWrite, 10, NDK_FN_WRITE);
  DISPATCH(NDK_QP_DISPATCH, NdkSendAndInvalidate, 11, NDK_FN_SEND_AND_INVALIDATE);
  /* 3.7 */
  SIZE(NDK_SRQ_DISPATCH, 4 * 8);
  DISPATCH(NDK_SRQ_DISPATCH, NdkCloseSrq, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_SRQ_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_SRQ_DISPATCH, NdkModifySrq, 3, NDK_FN_MODIFY_SRQ);
  DISPATCH(NDK_SRQ_DISPATCH, NdkSrqReceive, 4, NDK_FN_SRQ_RECEIVE);
  /* 3.8 */
  SIZE(NDK_CONNECTOR_DISPATCH, 13 * 8);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkCloseConnector, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkConnect, 3, NDK_FN_CONNECT);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkConnectWithSharedEndpoint, 4,
           NDK_FN_CONNECT_WITH_SHARED_ENDPOINT);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkCompleteConnect, 5, NDK_FN_COMPLETE_CONNECT);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkAccept, 6, NDK_FN_ACCEPT);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkReject, 7, NDK_FN_REJECT);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkGetConnectionData, 8, NDK_FN_GET_CONNECTION_DATA);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkGetLocalAddress, 9, NDK_FN_GET_LOCAL_ADDRESS);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkGetPeerAddress, 10, NDK_FN_GET_PEER_ADDRESS);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkDisconnect, 11, NDK_FN_DISCONNECT);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkCompleteConnectEx, 12, NDK_FN_COMPLETE_CONNECT_EX);
  DISPATCH(NDK_CONNECTOR_DISPATCH, NdkAcceptEx, 13, NDK_FN_ACCEPT_EX);
  /* 3.9 */
  SIZE(NDK_LISTENER_DISPATCH, 5 * 8);
  DISPATCH(NDK_LISTENER_DISPATCH, NdkCloseListener, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_LISTENER_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_LISTENER_DISPATCH, NdkListen, 3, NDK_FN_LISTEN);
  DISPATCH(NDK_LISTENER_DISPATCH, NdkGetLocalAddress, 4, NDK_FN_GET_LISTENER_LOCAL_ADDRESS);
  DISPATCH(NDK_LISTENER_DISPATCH, NdkControlConnectEvents, 5, NDK_FN_CONTROL_CONNECT_EVENTS);
  /* 3.10 */
  SIZE(NDK_SHARED_ENDPOINT_DISPATCH, 3 * 8);
  DISPATCH(NDK_SHARED_ENDPOINT_DISPATCH, NdkCloseSharedEndpoint, 1, NDK_FN_CLOSE_OBJECT);
  DISPATCH(NDK_SHARED_ENDPOINT_DISPATCH, NdkQueryExtension, 2, NDK_FN_QUERY_EXTENSION_INTERFACE);
  DISPATCH(NDK_SHARED_ENDPOINT_DISPATCH, NdkGetLocalAddress, 3,
           NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS);
}

static void ndis_types(void) {
  /* 6.4 */
  SIZE(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, 12);
  OFF(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, Version, 0);
  OFF(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, SwitchId, 4);
  OFF(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, VPortId, 8);
  /* 6.5 */
  SIZE(NDIS_NDK_PROVIDER_CHARACTERISTICS, 24);
  OFF(NDIS_NDK_PROVIDER_CHARACTERISTICS, Header, 0);
  OFF(NDIS_NDK_PROVIDER_CHARACTERISTICS, Flags, 4);
  OFF(NDIS_NDK_PROVIDER_CHARACTERISTICS, OpenNDKAdapterHandler, 8);
  OFF(NDIS_NDK_PROVIDER_CHARACTERISTICS, CloseNDKAdapterHandler, 16);
  check_eq("NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1",
           NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1, 24);
  /* 6.6: header 4, BOOLEAN @4, pointer @8 */
  SIZE(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, 16);
  OFF(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, Header, 0);
  OFF(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, Enabled, 4);
  OFF(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, NdkCapabilities, 8);
  check_eq("NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1",
           NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1, 16);
  /* 6.7: header 4 + nine ULONGs (4..39), ULONG64 @40, pointer @48 */
  SIZE(NDIS_NDK_CAPABILITIES, 56);
  OFF(NDIS_NDK_CAPABILITIES, Header, 0);
  OFF(NDIS_NDK_CAPABILITIES, Flags, 4);
  OFF(NDIS_NDK_CAPABILITIES, MaxQpCount, 8);
  OFF(NDIS_NDK_CAPABILITIES, MaxCqCount, 12);
  OFF(NDIS_NDK_CAPABILITIES, MaxMrCount, 16);
  OFF(NDIS_NDK_CAPABILITIES, MaxPdCount, 20);
  OFF(NDIS_NDK_CAPABILITIES, MaxInboundReadLimit, 24);
  OFF(NDIS_NDK_CAPABILITIES, MaxOutboundReadLimit, 28);
  OFF(NDIS_NDK_CAPABILITIES, MaxMwCount, 32);
  OFF(NDIS_NDK_CAPABILITIES, MaxSrqCount, 36);
  OFF(NDIS_NDK_CAPABILITIES, MissingCounterMask, 40);
  OFF(NDIS_NDK_CAPABILITIES, NdkInfo, 48);
  check_eq("NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1", NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1, 56);
  /* 6.9: 30 ULONG64 counters; counter i at 8 * i */
  SIZE(NDIS_NDK_PERFORMANCE_COUNTERS, 30 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Connect, 0 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Accept, 1 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, ConnectFailure, 2 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, ConnectionError, 3 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, ActiveConnection, 4 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved01, 5 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved02, 6 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved03, 7 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved04, 8 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved05, 9 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved06, 10 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved07, 11 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved08, 12 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved09, 13 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved10, 14 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved11, 15 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved12, 16 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved13, 17 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved14, 18 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved15, 19 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved16, 20 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved17, 21 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved18, 22 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved19, 23 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, Reserved20, 24 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, CQError, 25 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, RDMAInOctets, 26 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, RDMAOutOctets, 27 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, RDMAInFrames, 28 * 8);
  OFF(NDIS_NDK_PERFORMANCE_COUNTERS, RDMAOutFrames, 29 * 8);
  SIZE(NDIS_NDK_STATISTICS_INFO, 248);
  OFF(NDIS_NDK_STATISTICS_INFO, Header, 0);
  OFF(NDIS_NDK_STATISTICS_INFO, Flags, 4);
  OFF(NDIS_NDK_STATISTICS_INFO, CounterSet, 8);
  check_eq("NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1",
           NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1, 248);
  /* 6.10 */
  SIZE(NDIS_NDK_CONNECTION_ENTRY, 64);
  OFF(NDIS_NDK_CONNECTION_ENTRY, Local, 0);
  OFF(NDIS_NDK_CONNECTION_ENTRY, Remote, 28);
  OFF(NDIS_NDK_CONNECTION_ENTRY, UserModeOwner, 56);
  OFF(NDIS_NDK_CONNECTION_ENTRY, OwnerPid, 60);
  SIZE(NDIS_NDK_CONNECTIONS, 16 + 64);
  OFF(NDIS_NDK_CONNECTIONS, Header, 0);
  OFF(NDIS_NDK_CONNECTIONS, Flags, 4);
  OFF(NDIS_NDK_CONNECTIONS, Count, 8);
  OFF(NDIS_NDK_CONNECTIONS, NDConnectionsMappedtoTCPConnections, 12);
  OFF(NDIS_NDK_CONNECTIONS, Connections, 16);
  check_eq("NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(0)", NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(0), 16);
  check_eq("NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(3)", NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(3),
           16 + 3 * 64);
  /* 6.11 */
  SIZE(NDIS_NDK_LOCAL_ENDPOINT_ENTRY, 36);
  OFF(NDIS_NDK_LOCAL_ENDPOINT_ENTRY, Local, 0);
  OFF(NDIS_NDK_LOCAL_ENDPOINT_ENTRY, UserModeOwner, 28);
  OFF(NDIS_NDK_LOCAL_ENDPOINT_ENTRY, Listener, 29);
  OFF(NDIS_NDK_LOCAL_ENDPOINT_ENTRY, OwnerPid, 32);
  SIZE(NDIS_NDK_LOCAL_ENDPOINTS, 16 + 36);
  OFF(NDIS_NDK_LOCAL_ENDPOINTS, Header, 0);
  OFF(NDIS_NDK_LOCAL_ENDPOINTS, Flags, 4);
  OFF(NDIS_NDK_LOCAL_ENDPOINTS, Count, 8);
  OFF(NDIS_NDK_LOCAL_ENDPOINTS, NDLocalEndpointsMappedtoTCPLocalEndpoints, 12);
  OFF(NDIS_NDK_LOCAL_ENDPOINTS, LocalEndpoints, 16);
  check_eq("NDIS_SIZEOF_NDK_ENDPOINTS_REVISION_1(0)", NDIS_SIZEOF_NDK_ENDPOINTS_REVISION_1(0), 16);
  check_eq("NDIS_SIZEOF_NDK_ENDPOINTS_REVISION_1(3)", NDIS_SIZEOF_NDK_ENDPOINTS_REVISION_1(3),
           16 + 3 * 36);
  check_eq("NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(2)",
           NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(2), 16 + 2 * 36);
}

int main(void) {
  scalars();
  kernel_types();
  ndk_types();
  dispatch_tables();
  ndis_types();
  printf("abi_layout_c: %d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
