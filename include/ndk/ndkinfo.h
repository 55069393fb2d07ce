/*
 * ndk/ndkinfo.h - NDK version, adapter information and adapter flags
 * (the contents of ndkinfo.h).
 *
 * Spec: NDKPI.md sections 2.1, 2.9, 2.10, 2.12.3.
 */
#ifndef OPENNDK_NDK_NDKINFO_H
#define OPENNDK_NDK_NDKINFO_H

#include <ndk/nt_types.h>

/* NDKPI version: {1,1} = Windows Server 2012, {1,2} = 2012 R2, {2,1}. */
typedef struct {
  USHORT Major;
  USHORT Minor;
} NDK_VERSION;

/* Transport technology; values match the *NetworkDirectTechnology keyword. */
typedef enum _NDK_RDMA_TECHNOLOGY {
  NdkUndefined = 0,
  NdkiWarp = 1,
  NdkInfiniBand = 2,
  NdkRoCE = 3,
  NdkRoCEv2 = 4,
  NdkMaxTechnology = 5
} NDK_RDMA_TECHNOLOGY;

/* Limits and capabilities of an adapter instance (NdkQueryAdapterInfo). */
typedef struct _NDK_ADAPTER_INFO {
  NDK_VERSION Version;
  UINT32 VendorId;
  UINT32 DeviceId;
  SIZE_T MaxRegistrationSize;
  SIZE_T MaxWindowSize;
  ULONG FRMRPageCount;
  ULONG MaxInitiatorRequestSge;
  ULONG MaxReceiveRequestSge;
  ULONG MaxReadRequestSge;
  ULONG MaxTransferLength;
  ULONG MaxInlineDataSize;
  ULONG MaxInboundReadLimit;
  ULONG MaxOutboundReadLimit;
  ULONG MaxReceiveQueueDepth;
  ULONG MaxInitiatorQueueDepth;
  ULONG MaxSrqDepth;
  ULONG MaxCqDepth;
  ULONG LargeRequestThreshold;
  ULONG MaxCallerData;
  ULONG MaxCalleeData;
  ULONG AdapterFlags;
  NDK_RDMA_TECHNOLOGY RdmaTechnology;
} NDK_ADAPTER_INFO;

/* NDK_ADAPTER_INFO.AdapterFlags bits (2.12.3). */
#define NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED 0x00000001
#define NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED 0x00000002
#define NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED 0x00000004
#define NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED 0x00000008
#define NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED 0x00000010 /* 1.2 */
#define NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED 0x00000100
#define NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED 0x00010000

#endif /* OPENNDK_NDK_NDKINFO_H */
