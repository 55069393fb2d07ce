/*
 * ndk/ndkpi.h - the Network Direct Kernel Provider Interface (ndkpi.h):
 * objects, dispatch tables, provider functions, consumer callbacks, work
 * request structures and flags.
 *
 * Spec: NDKPI.md sections 2.2-2.8, 2.11, 2.12, 3 and 4. Names, member order,
 * parameter lists and values are those of the spec; the comment after each
 * parameter gives its direction (in / out / in,out; "opt" = may be NULL).
 *
 * Every NDK object starts with an NDK_OBJECT_HEADER followed by a pointer to
 * its (provider-owned, const) dispatch table; every table member's first
 * parameter is the object it acts on.
 */
#ifndef OPENNDK_NDK_NDKPI_H
#define OPENNDK_NDK_NDKPI_H

#include <ndk/mdl.h>
#include <ndk/ndkinfo.h>
#include <ndk/nt_types.h>
#include <ndk/ntstatus.h>
#include <ndk/ws2def.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Object types and the common object header (2.2, 2.3)
 * ====================================================================== */

typedef enum _NDK_OBJECT_TYPE {
  NdkObjectTypeUndefined = 0,
  NdkObjectTypeAdapter = 1,
  NdkObjectTypeQp = 2,
  NdkObjectTypeCq = 3,
  NdkObjectTypeMr = 4,
  NdkObjectTypeMw = 5,
  NdkObjectTypePd = 6,
  NdkObjectTypeSharedEndpoint = 7,
  NdkObjectTypeConnector = 8,
  NdkObjectTypeListener = 9,
  NdkObjectTypeSrq = 10,
  NdkObjectTypeMax = 11
} NDK_OBJECT_TYPE;

/* Reserved for the consumer/OS; the provider zeroes it at creation. */
typedef struct _NDK_OBJECT_HEADER_RESERVED_BLOCK {
  PVOID rf[4];
} NDK_OBJECT_HEADER_RESERVED_BLOCK;

typedef struct _NDK_OBJECT_HEADER {
  NDK_VERSION Version;
  NDK_OBJECT_TYPE ObjectType;
  NDK_OBJECT_HEADER_RESERVED_BLOCK NdkReserved;
} NDK_OBJECT_HEADER;

/* Forward declarations of the objects and their dispatch tables. */
typedef struct _NDK_ADAPTER NDK_ADAPTER;
typedef struct _NDK_CQ NDK_CQ;
typedef struct _NDK_PD NDK_PD;
typedef struct _NDK_MR NDK_MR;
typedef struct _NDK_MW NDK_MW;
typedef struct _NDK_QP NDK_QP;
typedef struct _NDK_SRQ NDK_SRQ;
typedef struct _NDK_CONNECTOR NDK_CONNECTOR;
typedef struct _NDK_LISTENER NDK_LISTENER;
typedef struct _NDK_SHARED_ENDPOINT NDK_SHARED_ENDPOINT;

typedef struct _NDK_ADAPTER_DISPATCH NDK_ADAPTER_DISPATCH;
typedef struct _NDK_CQ_DISPATCH NDK_CQ_DISPATCH;
typedef struct _NDK_PD_DISPATCH NDK_PD_DISPATCH;
typedef struct _NDK_MR_DISPATCH NDK_MR_DISPATCH;
typedef struct _NDK_MW_DISPATCH NDK_MW_DISPATCH;
typedef struct _NDK_QP_DISPATCH NDK_QP_DISPATCH;
typedef struct _NDK_SRQ_DISPATCH NDK_SRQ_DISPATCH;
typedef struct _NDK_CONNECTOR_DISPATCH NDK_CONNECTOR_DISPATCH;
typedef struct _NDK_LISTENER_DISPATCH NDK_LISTENER_DISPATCH;
typedef struct _NDK_SHARED_ENDPOINT_DISPATCH NDK_SHARED_ENDPOINT_DISPATCH;

/* ======================================================================
 * Work requests and completions (2.5-2.8, 2.11)
 * ====================================================================== */

/* NDK_RESULT_EX.Type (1.2+). Values are the header's, not 0..7. */
typedef enum _NDK_OPERATION_TYPE {
  NdkOperationTypeReceive = 1,
  NdkOperationTypeReceiveAndInvalidate = 0x8001, /* 32769 */
  NdkOperationTypeSend = 2,
  NdkOperationTypeFastRegister = 4,
  NdkOperationTypeBind = 8,
  NdkOperationTypeInvalidate = 16,
  NdkOperationTypeRead = 32,
  NdkOperationTypeWrite = 64
} NDK_OPERATION_TYPE;

/* Adapter logical address of a page (from NdkBuildLAM). */
typedef PHYSICAL_ADDRESS NDK_LOGICAL_ADDRESS;

/* One local buffer of a send/receive/read/write. VirtualAddress is used with
 * an MR token, LogicalAddress with the PD's privileged token. */
typedef struct _NDK_SGE {
  union {
    PVOID VirtualAddress;
    NDK_LOGICAL_ADDRESS LogicalAddress;
  };
  ULONG Length;
  UINT32 MemoryRegionToken;
} NDK_SGE;

/* A completion as returned by NdkGetCqResults. */
typedef struct _NDK_RESULT {
  NTSTATUS Status;
  ULONG BytesTransferred; /* receives only */
  PVOID QPContext;
  PVOID RequestContext;
} NDK_RESULT;

/* A completion as returned by NdkGetCqResultsEx (1.2+; ProviderErrorCode in
 * 2.1, occupying what was padding on 64-bit targets). For
 * NdkOperationTypeReceiveAndInvalidate, TypeSpecificCompletionOutput holds the
 * invalidated 32-bit token, zero-extended. */
typedef struct _NDK_RESULT_EX {
  NTSTATUS Status;
  ULONG BytesTransferred;
  PVOID QPContext;
  PVOID RequestContext;
  NDK_OPERATION_TYPE Type;
  ULONG ProviderErrorCode;
  ULONG_PTR TypeSpecificCompletionOutput;
} NDK_RESULT_EX;

/* Adapter view of a virtually contiguous buffer ("LAM"): AdapterPageCount
 * PAGE_SIZE pages. Variable length: a mapping of n pages takes
 * OPENNDK_LAM_SIZE(n) bytes. */
typedef struct _NDK_LOGICAL_ADDRESS_MAPPING {
  PVOID AdapterContext;
  ULONG AdapterPageCount;
  NDK_LOGICAL_ADDRESS AdapterPageArray[1];
} NDK_LOGICAL_ADDRESS_MAPPING;

/* OpenNDK helper: bytes of an NDK_LOGICAL_ADDRESS_MAPPING with n pages. */
#define OPENNDK_LAM_SIZE(n)                                                 \
  ((ULONG)(FIELD_OFFSET(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray) + \
           (n) * sizeof(NDK_LOGICAL_ADDRESS)))

/* Result of NdkQueryExtension: the extension's own dispatch table. */
typedef struct _NDK_EXTENSION_INTERFACE {
  const VOID *Dispatch;
} NDK_EXTENSION_INTERFACE;

/* ======================================================================
 * Flags and constants (2.12)
 * ====================================================================== */

/* Work-request flags (2.12.1). */
#define NDK_OP_FLAG_SILENT_SUCCESS 0x00000001
#define NDK_OP_FLAG_READ_FENCE 0x00000002
#define NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT 0x00000004
#define NDK_OP_FLAG_ALLOW_REMOTE_READ 0x00000008
#define NDK_OP_FLAG_ALLOW_LOCAL_WRITE 0x00000010
#define NDK_OP_FLAG_ALLOW_REMOTE_WRITE 0x00000030 /* includes ALLOW_LOCAL_WRITE */
#define NDK_OP_FLAG_INLINE 0x00000040
#define NDK_OP_FLAG_RDMA_READ_SINK 0x00000080
#define NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE 0x00000100 /* 1.2, [A-5] */
#define NDK_OP_FLAG_DEFER 0x00000200                      /* 1.2 */

/* NdkRegisterMr access flags (2.12.2). */
#define NDK_MR_FLAG_ALLOW_LOCAL_READ 0x00000000
#define NDK_MR_FLAG_ALLOW_LOCAL_WRITE 0x00000001
#define NDK_MR_FLAG_ALLOW_REMOTE_READ 0x00000002
#define NDK_MR_FLAG_ALLOW_REMOTE_WRITE 0x00000005 /* includes ALLOW_LOCAL_WRITE */
#define NDK_MR_FLAG_RDMA_READ_SINK 0x00000008

/* NdkArmCq Type (2.12.4). */
#define NDK_CQ_NOTIFY_ERRORS 0
#define NDK_CQ_NOTIFY_ANY 1
#define NDK_CQ_NOTIFY_SOLICITED 2

/* Other constants of 2.12.5 that have no name in the Windows headers. */
#define OPENNDK_EPHEMERAL_PORT_FIRST 49152 /* R94: ports given out for port 0 */
#define OPENNDK_EPHEMERAL_PORT_LAST 65535
#define OPENNDK_MIN_FRMR_PAGE_COUNT 16 /* R140: minimum FRMRPageCount */

/* ======================================================================
 * Consumer callbacks (4)
 * ====================================================================== */

typedef VOID (*NDK_FN_CLOSE_COMPLETION)(
    PVOID Context /* in, opt */);

typedef VOID (*NDK_FN_CREATE_COMPLETION)(
    PVOID Context,                 /* in, opt */
    NTSTATUS Status,               /* in */
    NDK_OBJECT_HEADER *pNdkObject  /* in */);

typedef VOID (*NDK_FN_REQUEST_COMPLETION)(
    PVOID Context,   /* in, opt */
    NTSTATUS Status  /* in */);

typedef VOID (*NDK_FN_CQ_NOTIFICATION_CALLBACK)(
    PVOID CqNotificationContext, /* in, opt */
    NTSTATUS CqStatus            /* in */);

typedef VOID (*NDK_FN_SRQ_NOTIFICATION_CALLBACK)(
    PVOID SrqNotificationContext, /* in, opt */
    NTSTATUS SrqStatus            /* in */);

typedef VOID (*NDK_FN_CONNECT_EVENT_CALLBACK)(
    PVOID ConnectEventContext,    /* in, opt */
    NDK_CONNECTOR *pNdkConnector  /* in */);

typedef VOID (*NDK_FN_DISCONNECT_EVENT_CALLBACK)(
    PVOID DisconnectEventContext /* in, opt */);

/* 2.1+ */
typedef VOID (*NDK_FN_DISCONNECT_EVENT_CALLBACK_EX)(
    PVOID DisconnectEventContext,  /* in, opt */
    ULONG ProviderDisconnectReason /* in */);

/* ======================================================================
 * Provider functions common to all objects (3.0)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_CLOSE_OBJECT)(
    NDK_OBJECT_HEADER *pNdkObject,            /* in */
    NDK_FN_CLOSE_COMPLETION CloseCompletion,  /* in */
    PVOID RequestContext                      /* in, opt */);

typedef NTSTATUS (*NDK_FN_QUERY_EXTENSION_INTERFACE)(
    NDK_OBJECT_HEADER *pNdkObject,                 /* in */
    GUID *ExtensionInterfaceID,                    /* in */
    NDK_VERSION ExtensionInterfaceVersion,         /* in */
    NDK_EXTENSION_INTERFACE *pExtensionInterface   /* out */);

/* ======================================================================
 * Adapter functions (3.1)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_QUERY_ADAPTER_INFO)(
    NDK_ADAPTER *pNdkAdapter, /* in */
    NDK_ADAPTER_INFO *pInfo,  /* out */
    ULONG *pBufferSize        /* in, out */);

typedef NTSTATUS (*NDK_FN_CREATE_CQ)(
    NDK_ADAPTER *pNdkAdapter,                        /* in */
    ULONG CqDepth,                                   /* in */
    NDK_FN_CQ_NOTIFICATION_CALLBACK CqNotification,  /* in */
    PVOID CqNotificationContext,                     /* in, opt */
    GROUP_AFFINITY *Affinity,                        /* in, opt */
    NDK_FN_CREATE_COMPLETION CreateCompletion,       /* in */
    PVOID RequestContext,                            /* in, opt */
    NDK_CQ **ppNdkCq                                 /* out */);

typedef NTSTATUS (*NDK_FN_CREATE_PD)(
    NDK_ADAPTER *pNdkAdapter,                  /* in */
    NDK_FN_CREATE_COMPLETION CreateCompletion, /* in */
    PVOID RequestContext,                      /* in, opt */
    NDK_PD **ppNdkPd                           /* out */);

typedef NTSTATUS (*NDK_FN_CREATE_SHARED_ENDPOINT)(
    NDK_ADAPTER *pNdkAdapter,                  /* in */
    const PSOCKADDR pAddress,                  /* in */
    ULONG AddressLength,                       /* in */
    NDK_FN_CREATE_COMPLETION CreateCompletion, /* in */
    PVOID RequestContext,                      /* in, opt */
    NDK_SHARED_ENDPOINT **ppNdkSharedEndpoint  /* out */);

typedef NTSTATUS (*NDK_FN_CREATE_CONNECTOR)(
    NDK_ADAPTER *pNdkAdapter,                  /* in */
    NDK_FN_CREATE_COMPLETION CreateCompletion, /* in */
    PVOID RequestContext,                      /* in, opt */
    NDK_CONNECTOR **ppNdkConnector             /* out */);

typedef NTSTATUS (*NDK_FN_CREATE_LISTENER)(
    NDK_ADAPTER *pNdkAdapter,                   /* in */
    NDK_FN_CONNECT_EVENT_CALLBACK ConnectEvent, /* in */
    PVOID ConnectEventContext,                  /* in, opt */
    NDK_FN_CREATE_COMPLETION CreateCompletion,  /* in */
    PVOID RequestContext,                       /* in, opt */
    NDK_LISTENER **ppNdkListener                /* out */);

typedef NTSTATUS (*NDK_FN_BUILD_LAM)(
    NDK_ADAPTER *pNdkAdapter,                    /* in */
    MDL *Mdl,                                    /* in */
    SIZE_T Length,                               /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext,                        /* in, opt */
    NDK_LOGICAL_ADDRESS_MAPPING *pNdkLAM,        /* out */
    ULONG *pLAMSize,                             /* in, out */
    ULONG *pFBO                                  /* out */);

typedef VOID (*NDK_FN_RELEASE_LAM)(
    NDK_ADAPTER *pNdkAdapter,            /* in */
    NDK_LOGICAL_ADDRESS_MAPPING *pNdkLAM /* in */);

/* ======================================================================
 * CQ functions (3.2)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_RESIZE_CQ)(
    NDK_CQ *pNdkCq,                              /* in */
    ULONG CqDepth,                               /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

typedef VOID (*NDK_FN_ARM_CQ)(
    NDK_CQ *pNdkCq, /* in */
    ULONG Type      /* in: NDK_CQ_NOTIFY_* */);

typedef ULONG (*NDK_FN_GET_CQ_RESULTS)(
    NDK_CQ *pNdkCq,       /* in */
    NDK_RESULT Results[], /* out */
    ULONG nResults        /* in */);

/* 1.2+ */
typedef ULONG (*NDK_FN_GET_CQ_RESULTS_EX)(
    NDK_CQ *pNdkCq,          /* in */
    NDK_RESULT_EX Results[], /* out */
    ULONG nResults           /* in */);

typedef NTSTATUS (*NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION)(
    NDK_CQ *pNdkCq,           /* in */
    ULONG ModerationInterval, /* in */
    ULONG ModerationCount     /* in */);

/* ======================================================================
 * PD functions (3.3)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_CREATE_MR)(
    NDK_PD *pNdkPd,                            /* in */
    BOOLEAN FastRegister,                      /* in */
    NDK_FN_CREATE_COMPLETION CreateCompletion, /* in */
    PVOID RequestContext,                      /* in, opt */
    NDK_MR **ppNdkMr                           /* out */);

typedef NTSTATUS (*NDK_FN_CREATE_MW)(
    NDK_PD *pNdkPd,                            /* in */
    NDK_FN_CREATE_COMPLETION CreateCompletion, /* in */
    PVOID RequestContext,                      /* in, opt */
    NDK_MW **ppNdkMw                           /* out */);

typedef NTSTATUS (*NDK_FN_CREATE_SRQ)(
    NDK_PD *pNdkPd,                                   /* in */
    ULONG SrqDepth,                                   /* in */
    ULONG MaxReceiveRequestSge,                       /* in */
    ULONG NotifyThreshold,                            /* in */
    NDK_FN_SRQ_NOTIFICATION_CALLBACK SrqNotification, /* in, opt */
    PVOID SrqNotificationContext,                     /* in, opt */
    GROUP_AFFINITY *Affinity,                         /* in, opt */
    NDK_FN_CREATE_COMPLETION CreateCompletion,        /* in */
    PVOID RequestContext,                             /* in, opt */
    NDK_SRQ **ppNdkSrq                                /* out */);

typedef NTSTATUS (*NDK_FN_CREATE_QP)(
    NDK_PD *pNdkPd,                            /* in */
    NDK_CQ *pReceiveCq,                        /* in */
    NDK_CQ *pInitiatorCq,                      /* in */
    PVOID QPContext,                           /* in, opt */
    ULONG ReceiveQueueDepth,                   /* in */
    ULONG InitiatorQueueDepth,                 /* in */
    ULONG MaxReceiveRequestSge,                /* in */
    ULONG MaxInitiatorRequestSge,              /* in */
    ULONG InlineDataSize,                      /* in */
    NDK_FN_CREATE_COMPLETION CreateCompletion, /* in */
    PVOID RequestContext,                      /* in, opt */
    NDK_QP **ppNdkQp                           /* out */);

typedef NTSTATUS (*NDK_FN_CREATE_QP_WITH_SRQ)(
    NDK_PD *pNdkPd,                            /* in */
    NDK_CQ *pReceiveCq,                        /* in */
    NDK_CQ *pInitiatorCq,                      /* in */
    NDK_SRQ *pSrq,                             /* in */
    PVOID QPContext,                           /* in, opt */
    ULONG InitiatorQueueDepth,                 /* in */
    ULONG MaxInitiatorRequestSge,              /* in */
    ULONG InlineDataSize,                      /* in */
    NDK_FN_CREATE_COMPLETION CreateCompletion, /* in */
    PVOID RequestContext,                      /* in, opt */
    NDK_QP **ppNdkQp                           /* out */);

typedef VOID (*NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN)(
    NDK_PD *pNdkPd, /* in */
    UINT32 *pToken  /* out */);

/* ======================================================================
 * MR functions (3.4)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_REGISTER_MR)(
    NDK_MR *pNdkMr,                              /* in */
    MDL *Mdl,                                    /* in */
    SIZE_T Length,                               /* in */
    ULONG Flags,                                 /* in: NDK_MR_FLAG_* */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

typedef NTSTATUS (*NDK_FN_DEREGISTER_MR)(
    NDK_MR *pNdkMr,                              /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

typedef NTSTATUS (*NDK_FN_INITIALIZE_FAST_REGISTER_MR)(
    NDK_MR *pNdkMr,                              /* in */
    ULONG AdapterPageCount,                      /* in */
    BOOLEAN RemoteAccess,                        /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

typedef UINT32 (*NDK_FN_GET_REMOTE_TOKEN_FROM_MR)(
    NDK_MR *pNdkMr /* in */);

typedef UINT32 (*NDK_FN_GET_LOCAL_TOKEN_FROM_MR)(
    NDK_MR *pNdkMr /* in */);

/* ======================================================================
 * MW functions (3.5)
 * ====================================================================== */

typedef UINT32 (*NDK_FN_GET_REMOTE_TOKEN_FROM_MW)(
    NDK_MW *pNdkMw /* in */);

/* ======================================================================
 * QP functions (3.6)
 * ====================================================================== */

typedef VOID (*NDK_FN_FLUSH)(
    NDK_QP *pNdkQp /* in */);

typedef NTSTATUS (*NDK_FN_SEND)(
    NDK_QP *pNdkQp,       /* in */
    PVOID RequestContext, /* in, opt */
    const NDK_SGE *pSgl,  /* in */
    ULONG nSge,           /* in */
    ULONG Flags           /* in: NDK_OP_FLAG_* */);

typedef NTSTATUS (*NDK_FN_RECEIVE)(
    NDK_QP *pNdkQp,       /* in */
    PVOID RequestContext, /* in, opt */
    const NDK_SGE *pSgl,  /* in */
    ULONG nSge            /* in */);

typedef NTSTATUS (*NDK_FN_BIND)(
    NDK_QP *pNdkQp,       /* in */
    PVOID RequestContext, /* in, opt */
    NDK_MR *pMr,          /* in */
    NDK_MW *pMw,          /* in */
    PVOID VirtualAddress, /* in */
    SIZE_T Length,        /* in */
    ULONG Flags           /* in: NDK_OP_FLAG_* */);

typedef NTSTATUS (*NDK_FN_FAST_REGISTER)(
    NDK_QP *pNdkQp,                             /* in */
    PVOID RequestContext,                       /* in, opt */
    NDK_MR *pMr,                                /* in */
    ULONG AdapterPageCount,                     /* in */
    const NDK_LOGICAL_ADDRESS *AdapterPageArray, /* in */
    ULONG FBO,                                  /* in */
    SIZE_T Length,                              /* in */
    PVOID BaseVirtualAddress,                   /* in */
    ULONG Flags                                 /* in: NDK_OP_FLAG_* */);

typedef NTSTATUS (*NDK_FN_INVALIDATE)(
    NDK_QP *pNdkQp,                /* in */
    PVOID RequestContext,          /* in, opt */
    NDK_OBJECT_HEADER *pNdkMrOrMw, /* in */
    ULONG Flags                    /* in: NDK_OP_FLAG_* */);

typedef NTSTATUS (*NDK_FN_READ)(
    NDK_QP *pNdkQp,       /* in */
    PVOID RequestContext, /* in, opt */
    const NDK_SGE *pSgl,  /* in */
    ULONG nSge,           /* in */
    UINT64 RemoteAddress, /* in */
    UINT32 RemoteToken,   /* in */
    ULONG Flags           /* in: NDK_OP_FLAG_* */);

typedef NTSTATUS (*NDK_FN_WRITE)(
    NDK_QP *pNdkQp,       /* in */
    PVOID RequestContext, /* in, opt */
    const NDK_SGE *pSgl,  /* in */
    ULONG nSge,           /* in */
    UINT64 RemoteAddress, /* in */
    UINT32 RemoteToken,   /* in */
    ULONG Flags           /* in: NDK_OP_FLAG_* */);

/* 1.2+ */
typedef NTSTATUS (*NDK_FN_SEND_AND_INVALIDATE)(
    NDK_QP *pNdkQp,       /* in */
    PVOID RequestContext, /* in, opt */
    const NDK_SGE *pSgl,  /* in */
    ULONG nSge,           /* in */
    ULONG Flags,          /* in: NDK_OP_FLAG_* */
    UINT32 RemoteToken    /* in */);

/* ======================================================================
 * SRQ functions (3.7)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_MODIFY_SRQ)(
    NDK_SRQ *pNdkSrq,                            /* in */
    ULONG SrqDepth,                              /* in */
    ULONG NotifyThreshold,                       /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

typedef NTSTATUS (*NDK_FN_SRQ_RECEIVE)(
    NDK_SRQ *pNdkSrq,     /* in */
    PVOID RequestContext, /* in, opt */
    const NDK_SGE *pSgl,  /* in */
    ULONG nSge            /* in */);

/* ======================================================================
 * Connector functions (3.8)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_CONNECT)(
    NDK_CONNECTOR *pNdkConnector,                /* in */
    NDK_QP *pNdkQp,                              /* in */
    const PSOCKADDR pSrcAddress,                 /* in */
    ULONG SrcAddressLength,                      /* in */
    const PSOCKADDR pDestAddress,                /* in */
    ULONG DestAddressLength,                     /* in */
    ULONG InboundReadLimit,                      /* in */
    ULONG OutboundReadLimit,                     /* in */
    const PVOID pPrivateData,                    /* in, opt: PrivateDataLength bytes */
    ULONG PrivateDataLength,                     /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

typedef NTSTATUS (*NDK_FN_CONNECT_WITH_SHARED_ENDPOINT)(
    NDK_CONNECTOR *pNdkConnector,                /* in */
    NDK_QP *pNdkQp,                              /* in */
    NDK_SHARED_ENDPOINT *pNdkSharedEndpoint,     /* in */
    const PSOCKADDR pDestAddress,                /* in */
    ULONG DestAddressLength,                     /* in */
    ULONG InboundReadLimit,                      /* in */
    ULONG OutboundReadLimit,                     /* in */
    const PVOID pPrivateData,                    /* in, opt: PrivateDataLength bytes */
    ULONG PrivateDataLength,                     /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

typedef NTSTATUS (*NDK_FN_COMPLETE_CONNECT)(
    NDK_CONNECTOR *pNdkConnector,                     /* in */
    NDK_FN_DISCONNECT_EVENT_CALLBACK DisconnectEvent, /* in, opt */
    PVOID DisconnectEventContext,                     /* in, opt */
    NDK_FN_REQUEST_COMPLETION RequestCompletion,      /* in */
    PVOID RequestContext                              /* in, opt */);

typedef NTSTATUS (*NDK_FN_ACCEPT)(
    NDK_CONNECTOR *pNdkConnector,                     /* in */
    NDK_QP *pNdkQp,                                   /* in */
    ULONG InboundReadLimit,                           /* in */
    ULONG OutboundReadLimit,                          /* in */
    const PVOID pPrivateData,                         /* in, opt: PrivateDataLength bytes */
    ULONG PrivateDataLength,                          /* in */
    NDK_FN_DISCONNECT_EVENT_CALLBACK DisconnectEvent, /* in, opt */
    PVOID DisconnectEventContext,                     /* in, opt */
    NDK_FN_REQUEST_COMPLETION RequestCompletion,      /* in */
    PVOID RequestContext                              /* in, opt */);

typedef NTSTATUS (*NDK_FN_REJECT)(
    NDK_CONNECTOR *pNdkConnector, /* in */
    const PVOID pPrivateData,     /* in, opt */
    ULONG PrivateDataLength       /* in */);

typedef NTSTATUS (*NDK_FN_GET_CONNECTION_DATA)(
    NDK_CONNECTOR *pNdkConnector, /* in */
    ULONG *pInboundReadLimit,     /* out, opt */
    ULONG *pOutboundReadLimit,    /* out, opt */
    PVOID pPrivateData,           /* out, opt */
    ULONG *pPrivateDataLength     /* in, out */);

typedef NTSTATUS (*NDK_FN_GET_LOCAL_ADDRESS)(
    NDK_CONNECTOR *pNdkConnector, /* in */
    PSOCKADDR pAddress,           /* out */
    ULONG *pAddressLength         /* in, out */);

typedef NTSTATUS (*NDK_FN_GET_PEER_ADDRESS)(
    NDK_CONNECTOR *pNdkConnector, /* in */
    PSOCKADDR pAddress,           /* out */
    ULONG *pAddressLength         /* in, out */);

typedef NTSTATUS (*NDK_FN_DISCONNECT)(
    NDK_CONNECTOR *pNdkConnector,                /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

/* 2.1+ */
typedef NTSTATUS (*NDK_FN_COMPLETE_CONNECT_EX)(
    NDK_CONNECTOR *pNdkConnector,                        /* in */
    NDK_FN_DISCONNECT_EVENT_CALLBACK_EX DisconnectEvent, /* in, opt */
    PVOID DisconnectEventContext,                        /* in, opt */
    NDK_FN_REQUEST_COMPLETION RequestCompletion,         /* in */
    PVOID RequestContext                                 /* in, opt */);

/* 2.1+ */
typedef NTSTATUS (*NDK_FN_ACCEPT_EX)(
    NDK_CONNECTOR *pNdkConnector,                        /* in */
    NDK_QP *pNdkQp,                                      /* in */
    ULONG InboundReadLimit,                              /* in */
    ULONG OutboundReadLimit,                             /* in */
    const PVOID pPrivateData,                            /* in, opt: PrivateDataLength bytes */
    ULONG PrivateDataLength,                             /* in */
    NDK_FN_DISCONNECT_EVENT_CALLBACK_EX DisconnectEvent, /* in, opt */
    PVOID DisconnectEventContext,                        /* in, opt */
    NDK_FN_REQUEST_COMPLETION RequestCompletion,         /* in */
    PVOID RequestContext                                 /* in, opt */);

/* ======================================================================
 * Listener functions (3.9)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_LISTEN)(
    NDK_LISTENER *pNdkListener,                  /* in */
    const PSOCKADDR pAddress,                    /* in */
    ULONG AddressLength,                         /* in */
    NDK_FN_REQUEST_COMPLETION RequestCompletion, /* in */
    PVOID RequestContext                         /* in, opt */);

typedef NTSTATUS (*NDK_FN_GET_LISTENER_LOCAL_ADDRESS)(
    NDK_LISTENER *pNdkListener, /* in */
    PSOCKADDR pAddress,         /* out */
    ULONG *pAddressLength       /* in, out */);

typedef VOID (*NDK_FN_CONTROL_CONNECT_EVENTS)(
    NDK_LISTENER *pNdkListener, /* in */
    BOOLEAN Pause               /* in */);

/* ======================================================================
 * Shared endpoint functions (3.10)
 * ====================================================================== */

typedef NTSTATUS (*NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS)(
    NDK_SHARED_ENDPOINT *pNdkSharedEndpoint, /* in */
    PSOCKADDR pAddress,                      /* out */
    ULONG *pAddressLength                    /* in, out */);

/* ======================================================================
 * Dispatch tables (3.1-3.10), members in spec order
 * ====================================================================== */

struct _NDK_ADAPTER_DISPATCH {
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_QUERY_ADAPTER_INFO NdkQueryAdapterInfo;
  NDK_FN_CREATE_CQ NdkCreateCq;
  NDK_FN_CREATE_PD NdkCreatePd;
  NDK_FN_CREATE_SHARED_ENDPOINT NdkCreateSharedEndpoint;
  NDK_FN_CREATE_CONNECTOR NdkCreateConnector;
  NDK_FN_CREATE_LISTENER NdkCreateListener;
  NDK_FN_BUILD_LAM NdkBuildLAM;
  NDK_FN_RELEASE_LAM NdkReleaseLAM;
};

struct _NDK_CQ_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseCq;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_RESIZE_CQ NdkResizeCq;
  NDK_FN_ARM_CQ NdkArmCq;
  NDK_FN_GET_CQ_RESULTS NdkGetCqResults;
  NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION NdkControlCqInterruptModeration;
  NDK_FN_GET_CQ_RESULTS_EX NdkGetCqResultsEx; /* 1.2 */
};

struct _NDK_PD_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkClosePd;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_CREATE_MR NdkCreateMr;
  NDK_FN_CREATE_MW NdkCreateMw;
  NDK_FN_CREATE_SRQ NdkCreateSrq;
  NDK_FN_CREATE_QP NdkCreateQp;
  NDK_FN_CREATE_QP_WITH_SRQ NdkCreateQpWithSrq;
  NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN NdkGetPrivilegedMemoryRegionToken;
};

struct _NDK_MR_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseMr;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_REGISTER_MR NdkRegisterMr;
  NDK_FN_DEREGISTER_MR NdkDeregisterMr;
  NDK_FN_INITIALIZE_FAST_REGISTER_MR NdkInitializeFastRegisterMr;
  NDK_FN_GET_REMOTE_TOKEN_FROM_MR NdkGetRemoteTokenFromMr;
  NDK_FN_GET_LOCAL_TOKEN_FROM_MR NdkGetLocalTokenFromMr;
};

struct _NDK_MW_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseMw;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_GET_REMOTE_TOKEN_FROM_MW NdkGetRemoteTokenFromMw;
};

struct _NDK_QP_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseQp;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_FLUSH NdkFlush;
  NDK_FN_SEND NdkSend;
  NDK_FN_RECEIVE NdkReceive;
  NDK_FN_BIND NdkBind;
  NDK_FN_FAST_REGISTER NdkFastRegister;
  NDK_FN_INVALIDATE NdkInvalidate;
  NDK_FN_READ NdkRead;
  NDK_FN_WRITE NdkWrite;
  NDK_FN_SEND_AND_INVALIDATE NdkSendAndInvalidate; /* 1.2 */
};

struct _NDK_SRQ_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseSrq;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_MODIFY_SRQ NdkModifySrq;
  NDK_FN_SRQ_RECEIVE NdkSrqReceive;
};

struct _NDK_CONNECTOR_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseConnector;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_CONNECT NdkConnect;
  NDK_FN_CONNECT_WITH_SHARED_ENDPOINT NdkConnectWithSharedEndpoint;
  NDK_FN_COMPLETE_CONNECT NdkCompleteConnect;
  NDK_FN_ACCEPT NdkAccept;
  NDK_FN_REJECT NdkReject;
  NDK_FN_GET_CONNECTION_DATA NdkGetConnectionData;
  NDK_FN_GET_LOCAL_ADDRESS NdkGetLocalAddress;
  NDK_FN_GET_PEER_ADDRESS NdkGetPeerAddress;
  NDK_FN_DISCONNECT NdkDisconnect;
  NDK_FN_COMPLETE_CONNECT_EX NdkCompleteConnectEx; /* 2.1 */
  NDK_FN_ACCEPT_EX NdkAcceptEx;                    /* 2.1 */
};

struct _NDK_LISTENER_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseListener;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_LISTEN NdkListen;
  NDK_FN_GET_LISTENER_LOCAL_ADDRESS NdkGetLocalAddress;
  NDK_FN_CONTROL_CONNECT_EVENTS NdkControlConnectEvents;
};

struct _NDK_SHARED_ENDPOINT_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseSharedEndpoint;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS NdkGetLocalAddress;
};

/* ======================================================================
 * Objects (2.4): header + provider's dispatch table
 * ====================================================================== */

struct _NDK_ADAPTER {
  NDK_OBJECT_HEADER Header;
  const NDK_ADAPTER_DISPATCH *Dispatch;
};

struct _NDK_CQ {
  NDK_OBJECT_HEADER Header;
  const NDK_CQ_DISPATCH *Dispatch;
};

struct _NDK_PD {
  NDK_OBJECT_HEADER Header;
  const NDK_PD_DISPATCH *Dispatch;
};

struct _NDK_MR {
  NDK_OBJECT_HEADER Header;
  const NDK_MR_DISPATCH *Dispatch;
};

struct _NDK_MW {
  NDK_OBJECT_HEADER Header;
  const NDK_MW_DISPATCH *Dispatch;
};

struct _NDK_QP {
  NDK_OBJECT_HEADER Header;
  const NDK_QP_DISPATCH *Dispatch;
};

struct _NDK_SRQ {
  NDK_OBJECT_HEADER Header;
  const NDK_SRQ_DISPATCH *Dispatch;
};

struct _NDK_CONNECTOR {
  NDK_OBJECT_HEADER Header;
  const NDK_CONNECTOR_DISPATCH *Dispatch;
};

struct _NDK_LISTENER {
  NDK_OBJECT_HEADER Header;
  const NDK_LISTENER_DISPATCH *Dispatch;
};

struct _NDK_SHARED_ENDPOINT {
  NDK_OBJECT_HEADER Header;
  const NDK_SHARED_ENDPOINT_DISPATCH *Dispatch;
};

#ifdef __cplusplus
}
#endif

#endif /* OPENNDK_NDK_NDKPI_H */
