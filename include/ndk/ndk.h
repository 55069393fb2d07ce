/*
 * ndk/ndk.h - the OpenNDK C ABI: include this one header.
 *
 * Header map (each can also be included on its own):
 *   ndk/openndk_api.h   OPENNDK_API export macro, extern "C" helpers
 *   ndk/nt_types.h      Windows base types (LLP64 widths), GUID,
 *                       LARGE_INTEGER/PHYSICAL_ADDRESS, GROUP_AFFINITY,
 *                       NET_IFINDEX, PAGE_SIZE and page macros, FIELD_OFFSET,
 *                       NT_SUCCESS                        (spec 7.1-7.3, 7.6)
 *   ndk/ndis_types.h    NDIS_HANDLE, NDIS_STATUS, NDIS_OID, NDIS_OBJECT_HEADER,
 *                       NDIS_OBJECT_TYPE_*, NET_PNP_EVENT_CODE   (6.12, 7.7)
 *   ndk/ntstatus.h      STATUS_* and NDIS_STATUS_* codes          (2.13)
 *   ndk/ws2def.h        SOCKADDR*, SOCKADDR_INET, ADDRESS_FAMILY  (7.5)
 *   ndk/mdl.h           MDL, accessors, IoAllocateMdl & co.       (7.4)
 *   ndk/ndkinfo.h       NDK_VERSION, NDK_ADAPTER_INFO, NDK_RDMA_TECHNOLOGY,
 *                       NDK_ADAPTER_FLAG_*                   (2.1, 2.9, 2.10)
 *   ndk/ndkpi.h         objects, NDK_FN_* types, dispatch tables, SGE,
 *                       results, LAM, NDK_OP_FLAG_*, NDK_MR_FLAG_*,
 *                       NDK_CQ_NOTIFY_*                       (2.2-2.12, 3, 4)
 *   ndk/ndisndk.h       NDIS_OPEN_NDK_ADAPTER_PARAMETERS, OPEN/CLOSE handler
 *                       types, NDIS_NDK_PROVIDER_CHARACTERISTICS (6.2-6.5)
 *   ndk/ntddndis_ndk.h  NDK attributes/capabilities, OID_NDK_*, statistics,
 *                       connection and endpoint lists         (6.6-6.11)
 *   ndk/ndk.h           all of the above + the host entry points below.
 *   ndk/ndk_host.h      OpenNDK host extensions for tools (interface info,
 *                       state callbacks, keywords, tunables); NOT included by
 *                       ndk.h, include it explicitly (owned by src/host).
 *
 * The headers are plain C11 (and valid C++); they depend only on <stdint.h>,
 * <stddef.h>, <sys/socket.h> and <netinet/in.h>.
 *
 * Host entry points. On Windows an NDK consumer reaches an adapter through
 * NDIS; OpenNDK's host layer plays that role. Interfaces are named by their
 * Linux interface index (if_nametoindex); only interfaces on which OpenNDK
 * provides NDK ("NDK-capable") are accepted. All functions are blocking
 * (PASSIVE_LEVEL) and must not be called from inside an NDK callback.
 */
#ifndef OPENNDK_NDK_NDK_H
#define OPENNDK_NDK_NDK_H

#include <ndk/mdl.h>
#include <ndk/ndis_types.h>
#include <ndk/ndisndk.h>
#include <ndk/ndkinfo.h>
#include <ndk/ndkpi.h>
#include <ndk/nt_types.h>
#include <ndk/ntddndis_ndk.h>
#include <ndk/ntstatus.h>
#include <ndk/openndk_api.h>
#include <ndk/ws2def.h>

OPENNDK_EXTERN_C_BEGIN

/* Opens a new NDK_ADAPTER instance on an interface (the role of
 * OPEN_NDK_ADAPTER_HANDLER, R150). Parameters == NULL requests the newest
 * version OpenNDK supports. Returns NDIS_STATUS_SUCCESS with *Adapter set;
 * NDIS_STATUS_BAD_VERSION, NDIS_STATUS_ADAPTER_NOT_READY (NDK disabled on the
 * interface), NDIS_STATUS_RESOURCES, NDIS_STATUS_ADAPTER_NOT_FOUND (not an
 * NDK-capable interface) or NDIS_STATUS_INVALID_PARAMETER (Adapter NULL). */
OPENNDK_API NTSTATUS OpenNdkOpenAdapter(NET_IFINDEX InterfaceIndex,
                                    const NDIS_OPEN_NDK_ADAPTER_PARAMETERS *Parameters,
                                    NDK_ADAPTER **Adapter);

/* Closes an adapter instance opened by OpenNdkOpenAdapter (the role of
 * CLOSE_NDK_ADAPTER_HANDLER). Blocks until every callback of every object of
 * the instance has returned (R27). */
OPENNDK_API VOID OpenNdkCloseAdapter(NDK_ADAPTER *Adapter);

/* Queries an OID of an interface, as NDIS would ask the miniport:
 * OID_NDK_STATISTICS, OID_NDK_CONNECTIONS, OID_NDK_LOCAL_ENDPOINTS (R162-R164).
 * On NDIS_STATUS_SUCCESS *BytesWritten is the size written. When the buffer is
 * too small: NDIS_STATUS_BUFFER_TOO_SHORT and *BytesNeeded = required size.
 * Unknown OID: NDIS_STATUS_INVALID_OID; unknown interface:
 * NDIS_STATUS_ADAPTER_NOT_FOUND. BytesWritten/BytesNeeded may be NULL. */
OPENNDK_API NDIS_STATUS OpenNdkQueryInterfaceOid(NET_IFINDEX InterfaceIndex, NDIS_OID Oid,
                                             PVOID InformationBuffer,
                                             ULONG InformationBufferLength,
                                             ULONG *BytesWritten, ULONG *BytesNeeded);

/* Sets an OID of an interface: OID_NDK_SET_STATE with a BOOLEAN buffer
 * (InformationBufferLength == sizeof(BOOLEAN)) enables or disables NDK
 * (R159, R161; never NDIS_STATUS_PENDING). Wrong length:
 * NDIS_STATUS_INVALID_LENGTH with *BytesNeeded set; other statuses as for
 * OpenNdkQueryInterfaceOid. BytesRead/BytesNeeded may be NULL. */
OPENNDK_API NDIS_STATUS OpenNdkSetInterfaceOid(NET_IFINDEX InterfaceIndex, NDIS_OID Oid,
                                           PVOID InformationBuffer,
                                           ULONG InformationBufferLength,
                                           ULONG *BytesRead, ULONG *BytesNeeded);

/* Lists NDK-capable interfaces: writes up to Capacity indices to Indices
 * (which may be NULL when Capacity is 0) and returns how many there are in
 * total, which may exceed Capacity. */
OPENNDK_API ULONG OpenNdkEnumerateInterfaces(NET_IFINDEX *Indices, ULONG Capacity);

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_NDK_NDK_H */
