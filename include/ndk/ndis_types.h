/*
 * ndk/ndis_types.h - the NDIS helper types the NDK structures use.
 *
 * Spec: NDKPI.md sections 6.4-6.12 and 7.7. Only what the NDK parts of
 * ndis.h / ntddndis.h / objectheader.h need is provided.
 */
#ifndef OPENNDK_NDK_NDIS_TYPES_H
#define OPENNDK_NDK_NDIS_TYPES_H

#include <ndk/nt_types.h>

typedef PVOID NDIS_HANDLE, *PNDIS_HANDLE;
/* NDIS_STATUS is an NTSTATUS-compatible signed 32-bit code. */
typedef LONG NDIS_STATUS, *PNDIS_STATUS;
/* Object identifiers of NDIS requests. */
typedef ULONG NDIS_OID, *PNDIS_OID;
typedef ULONG NDIS_NIC_SWITCH_ID, *PNDIS_NIC_SWITCH_ID;
typedef ULONG NDIS_NIC_SWITCH_VPORT_ID, *PNDIS_NIC_SWITCH_VPORT_ID;

/* Header at the start of versioned NDIS structures. */
typedef struct _NDIS_OBJECT_HEADER {
  UCHAR Type;
  UCHAR Revision;
  USHORT Size;
} NDIS_OBJECT_HEADER, *PNDIS_OBJECT_HEADER;

#define NDIS_OBJECT_TYPE_DEFAULT 0x80
#define NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS 0xB2
#define NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES 0xB3

/* NET_PNP_EVENT_CODE (ndis.h): the NDK enable/disable events of R161. */
typedef enum _NET_PNP_EVENT_CODE {
  NetEventSetPower = 0,
  NetEventQueryPower = 1,
  NetEventQueryRemoveDevice = 2,
  NetEventCancelRemoveDevice = 3,
  NetEventReconfigure = 4,
  NetEventBindList = 5,
  NetEventBindsComplete = 6,
  NetEventPnPCapabilities = 7,
  NetEventPause = 8,
  NetEventRestart = 9,
  NetEventPortActivation = 10,
  NetEventPortDeactivation = 11,
  NetEventIMReEnableDevice = 12,
  NetEventNDKEnable = 13,
  NetEventNDKDisable = 14
} NET_PNP_EVENT_CODE, *PNET_PNP_EVENT_CODE;

#endif /* OPENNDK_NDK_NDIS_TYPES_H */
