/*
 * ndk/ndisndk.h - the NDIS side of an NDK provider (ndisndk.h): adapter
 * open/close entry points and their registration structure.
 *
 * Spec: NDKPI.md sections 6.2-6.5, 6.12.
 */
#ifndef OPENNDK_NDK_NDISNDK_H
#define OPENNDK_NDK_NDISNDK_H

#include <ndk/ndis_types.h>
#include <ndk/ndkinfo.h>
#include <ndk/ndkpi.h>
#include <ndk/nt_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Requested NDKPI version for an adapter open: the consumer's major version
 * and the lowest minor version it accepts. SwitchId/VPortId (NDIS 6.50) are
 * ignored by OpenNDK and should be 0. */
typedef struct _NDIS_OPEN_NDK_ADAPTER_PARAMETERS {
  NDK_VERSION Version;
  NDIS_NIC_SWITCH_ID SwitchId;
  NDIS_NIC_SWITCH_VPORT_ID VPortId;
} NDIS_OPEN_NDK_ADAPTER_PARAMETERS, *PNDIS_OPEN_NDK_ADAPTER_PARAMETERS;

/* Opens a new adapter instance on a miniport adapter (PASSIVE, may block). */
typedef NDIS_STATUS (*OPEN_NDK_ADAPTER_HANDLER)(
    NDIS_HANDLE MiniportAdapterContext,           /* in */
    PNDIS_OPEN_NDK_ADAPTER_PARAMETERS Parameters, /* in */
    NDK_ADAPTER **ppNdkAdapter                    /* out */);

/* Closes an adapter instance; blocks until all its callbacks returned. */
typedef VOID (*CLOSE_NDK_ADAPTER_HANDLER)(
    NDIS_HANDLE MiniportAdapterContext, /* in */
    NDK_ADAPTER *pNdkAdapter            /* in */);

/* What a miniport hands to NdisSetOptionalHandlers to declare NDK support. */
typedef struct _NDIS_NDK_PROVIDER_CHARACTERISTICS {
  NDIS_OBJECT_HEADER Header;
  ULONG Flags; /* reserved, 0 */
  OPEN_NDK_ADAPTER_HANDLER OpenNDKAdapterHandler;
  CLOSE_NDK_ADAPTER_HANDLER CloseNDKAdapterHandler;
} NDIS_NDK_PROVIDER_CHARACTERISTICS, *PNDIS_NDK_PROVIDER_CHARACTERISTICS;

#define NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1 1
#define NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1 \
  RTL_SIZEOF_THROUGH_FIELD(NDIS_NDK_PROVIDER_CHARACTERISTICS, CloseNDKAdapterHandler)

/* Registry keywords (6.12). */
#define NETWORK_DIRECT_KEYWORD "*NetworkDirect"
#define NETWORK_DIRECT_GLOBAL_FLAGS_KEYWORD "*NetworkDirectGlobalFlags"
#define NETWORK_DIRECT_GLOBAL_FLAGS_ALLOW_REMOTE_IP_SUBNET 0x00000001
/* Keywords the INF page names but the header does not define (OpenNDK names). */
#define OPENNDK_NETWORK_DIRECT_TECHNOLOGY_KEYWORD "*NetworkDirectTechnology"
#define OPENNDK_NETWORK_DIRECT_ROCE_FRAME_SIZE_KEYWORD "*NetworkDirectRoCEFrameSize"

#ifdef __cplusplus
}
#endif

#endif /* OPENNDK_NDK_NDISNDK_H */
