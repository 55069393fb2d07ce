/*
 * ndk/ntddndis_ndk.h - the NDK parts of ntddndis.h and ndis.h: adapter
 * attributes and capabilities, the NDK OIDs and their information buffers.
 *
 * Spec: NDKPI.md sections 6.6-6.11. Variable-length structures end in a
 * one-element array; their sizes come from the NDIS_SIZEOF_..._REVISION_1(n)
 * macros. Header.Size of such a structure is the macro's value capped
 * at MAXUSHORT.
 */
#ifndef OPENNDK_NDK_NTDDNDIS_NDK_H
#define OPENNDK_NDK_NTDDNDIS_NDK_H

#include <ndk/ndis_types.h>
#include <ndk/ndkinfo.h>
#include <ndk/nt_types.h>
#include <ndk/ws2def.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Capabilities (6.7) ---- */
typedef struct _NDIS_NDK_CAPABILITIES {
  NDIS_OBJECT_HEADER Header;
  ULONG Flags; /* 0 */
  ULONG MaxQpCount;
  ULONG MaxCqCount;
  ULONG MaxMrCount;
  ULONG MaxPdCount;
  ULONG MaxInboundReadLimit;
  ULONG MaxOutboundReadLimit;
  ULONG MaxMwCount;
  ULONG MaxSrqCount;
  ULONG64 MissingCounterMask; /* bit i = performance counter i missing */
  NDK_ADAPTER_INFO *NdkInfo;
} NDIS_NDK_CAPABILITIES, *PNDIS_NDK_CAPABILITIES;

#define NDIS_NDK_CAPABILITIES_REVISION_1 1
#define NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1 \
  RTL_SIZEOF_THROUGH_FIELD(NDIS_NDK_CAPABILITIES, NdkInfo)

/* ---- Miniport adapter attributes (6.6) ---- */
typedef struct _NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES {
  NDIS_OBJECT_HEADER Header;
  BOOLEAN Enabled;
  PNDIS_NDK_CAPABILITIES NdkCapabilities;
} NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, *PNDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES;

#define NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1 1
#define NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1 \
  RTL_SIZEOF_THROUGH_FIELD(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, NdkCapabilities)

/* ---- OIDs (6.8) ---- */
#define OID_NDK_SET_STATE 0xFC040201       /* set: BOOLEAN */
#define OID_NDK_STATISTICS 0xFC040202      /* query: NDIS_NDK_STATISTICS_INFO */
#define OID_NDK_CONNECTIONS 0xFC040203     /* query: NDIS_NDK_CONNECTIONS */
#define OID_NDK_LOCAL_ENDPOINTS 0xFC040204 /* query: NDIS_NDK_LOCAL_ENDPOINTS */

/* ---- Statistics (6.9) ---- */
typedef struct _NDIS_NDK_PERFORMANCE_COUNTERS {
  ULONG64 Connect;          /* bit 0 of MissingCounterMask */
  ULONG64 Accept;           /* 1 */
  ULONG64 ConnectFailure;   /* 2 */
  ULONG64 ConnectionError;  /* 3 */
  ULONG64 ActiveConnection; /* 4 */
  ULONG64 Reserved01;       /* 5 ... */
  ULONG64 Reserved02;
  ULONG64 Reserved03;
  ULONG64 Reserved04;
  ULONG64 Reserved05;
  ULONG64 Reserved06;
  ULONG64 Reserved07;
  ULONG64 Reserved08;
  ULONG64 Reserved09;
  ULONG64 Reserved10;
  ULONG64 Reserved11;
  ULONG64 Reserved12;
  ULONG64 Reserved13;
  ULONG64 Reserved14;
  ULONG64 Reserved15;
  ULONG64 Reserved16;
  ULONG64 Reserved17;
  ULONG64 Reserved18;
  ULONG64 Reserved19;
  ULONG64 Reserved20;       /* ... 24 */
  ULONG64 CQError;          /* 25 */
  ULONG64 RDMAInOctets;     /* 26 */
  ULONG64 RDMAOutOctets;    /* 27 */
  ULONG64 RDMAInFrames;     /* 28 */
  ULONG64 RDMAOutFrames;    /* 29 */
} NDIS_NDK_PERFORMANCE_COUNTERS, *PNDIS_NDK_PERFORMANCE_COUNTERS;

typedef struct _NDIS_NDK_STATISTICS_INFO {
  NDIS_OBJECT_HEADER Header;
  ULONG Flags; /* 0 */
  NDIS_NDK_PERFORMANCE_COUNTERS CounterSet;
} NDIS_NDK_STATISTICS_INFO, *PNDIS_NDK_STATISTICS_INFO;

#define NDIS_NDK_STATISTICS_INFO_REVISION_1 1
#define NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1 \
  RTL_SIZEOF_THROUGH_FIELD(NDIS_NDK_STATISTICS_INFO, CounterSet)

/* ---- Connections (6.10) ---- */
typedef struct _NDIS_NDK_CONNECTION_ENTRY {
  SOCKADDR_INET Local;
  SOCKADDR_INET Remote;
  BOOLEAN UserModeOwner;
  ULONG OwnerPid;
} NDIS_NDK_CONNECTION_ENTRY, *PNDIS_NDK_CONNECTION_ENTRY;

typedef struct _NDIS_NDK_CONNECTIONS {
  NDIS_OBJECT_HEADER Header;
  ULONG Flags; /* 0 */
  ULONG Count;
  BOOLEAN NDConnectionsMappedtoTCPConnections;
  NDIS_NDK_CONNECTION_ENTRY Connections[1];
} NDIS_NDK_CONNECTIONS, *PNDIS_NDK_CONNECTIONS;

#define NDIS_NDK_CONNECTIONS_REVISION_1 1
/* not defined by the pages; bytes for n entries. */
#define NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(n)        \
  ((ULONG)(FIELD_OFFSET(NDIS_NDK_CONNECTIONS, Connections) + \
           (n) * sizeof(NDIS_NDK_CONNECTION_ENTRY)))

/* ---- Local endpoints (6.11) ---- */
typedef struct _NDIS_NDK_LOCAL_ENDPOINT_ENTRY {
  SOCKADDR_INET Local;
  BOOLEAN UserModeOwner;
  BOOLEAN Listener;
  ULONG OwnerPid;
} NDIS_NDK_LOCAL_ENDPOINT_ENTRY, *PNDIS_NDK_LOCAL_ENDPOINT_ENTRY;

typedef struct _NDIS_NDK_LOCAL_ENDPOINTS {
  NDIS_OBJECT_HEADER Header;
  ULONG Flags; /* 0 */
  ULONG Count;
  BOOLEAN NDLocalEndpointsMappedtoTCPLocalEndpoints;
  NDIS_NDK_LOCAL_ENDPOINT_ENTRY LocalEndpoints[1];
} NDIS_NDK_LOCAL_ENDPOINTS, *PNDIS_NDK_LOCAL_ENDPOINTS;

#define NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1 1
/* the pages use this name (without LOCAL_) and do not define it;
 * bytes for n entries. The LOCAL_ spelling is an alias. */
#define NDIS_SIZEOF_NDK_ENDPOINTS_REVISION_1(n)                \
  ((ULONG)(FIELD_OFFSET(NDIS_NDK_LOCAL_ENDPOINTS, LocalEndpoints) + \
           (n) * sizeof(NDIS_NDK_LOCAL_ENDPOINT_ENTRY)))
#define NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(n) \
  NDIS_SIZEOF_NDK_ENDPOINTS_REVISION_1(n)

#ifdef __cplusplus
}
#endif

#endif /* OPENNDK_NDK_NTDDNDIS_NDK_H */
