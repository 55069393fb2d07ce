/*
 * tests/abi/abi_dispatch_c.c - the C ABI used the way a provider and a
 * consumer use it, from C11: a stub provider implements every NDK_FN_* with
 * Windows-style (SAL-annotated) definitions and fills all ten dispatch tables
 * with designated initializers (a wrong signature is a compile error under
 * -Werror); a consumer then calls every member through obj->Dispatch and
 * checks that each call reached the right function with the right object.
 */
#include <ndk/ndk.h>

#include <stdio.h>
#include <string.h>

static const char *g_last;
static const void *g_last_obj;
static int g_failures;
static int g_calls;

#define HIT(obj) (g_last = __func__, g_last_obj = (const void *)(obj))

/* ---- stub provider ---- */

static NTSTATUS StubClose(_In_ NDK_OBJECT_HEADER *pNdkObject,
                          _In_ NDK_FN_CLOSE_COMPLETION CloseCompletion,
                          _In_opt_ PVOID RequestContext) {
  (void)CloseCompletion;
  (void)RequestContext;
  HIT(pNdkObject);
  return STATUS_SUCCESS;
}
static NTSTATUS StubQueryExtension(_In_ NDK_OBJECT_HEADER *pNdkObject,
                                   _In_ GUID *ExtensionInterfaceID,
                                   _In_ NDK_VERSION ExtensionInterfaceVersion,
                                   _Out_ NDK_EXTENSION_INTERFACE *pExtensionInterface) {
  (void)ExtensionInterfaceID;
  (void)ExtensionInterfaceVersion;
  (void)pExtensionInterface;
  HIT(pNdkObject);
  return STATUS_NOT_SUPPORTED;
}
static NTSTATUS StubQueryAdapterInfo(NDK_ADAPTER *a, NDK_ADAPTER_INFO *info, ULONG *size) {
  HIT(a);
  if (*size < sizeof(*info)) {
    *size = sizeof(*info);
    return STATUS_BUFFER_TOO_SMALL;
  }
  memset(info, 0, sizeof(*info));
  info->Version.Major = 1;
  info->Version.Minor = 2;
  info->RdmaTechnology = NdkiWarp;
  *size = sizeof(*info);
  return STATUS_SUCCESS;
}
static NTSTATUS StubCreateCq(NDK_ADAPTER *a, ULONG d, NDK_FN_CQ_NOTIFICATION_CALLBACK n, PVOID nc,
                             GROUP_AFFINITY *af, NDK_FN_CREATE_COMPLETION cc, PVOID rc,
                             NDK_CQ **pp) {
  (void)d, (void)n, (void)nc, (void)af, (void)cc, (void)rc, (void)pp;
  HIT(a);
  return STATUS_PENDING;
}
static NTSTATUS StubCreatePd(NDK_ADAPTER *a, NDK_FN_CREATE_COMPLETION cc, PVOID rc, NDK_PD **pp) {
  (void)cc, (void)rc, (void)pp;
  HIT(a);
  return STATUS_PENDING;
}
static NTSTATUS StubCreateSharedEndpoint(NDK_ADAPTER *a, const PSOCKADDR addr, ULONG len,
                                         NDK_FN_CREATE_COMPLETION cc, PVOID rc,
                                         NDK_SHARED_ENDPOINT **pp) {
  (void)addr, (void)len, (void)cc, (void)rc, (void)pp;
  HIT(a);
  return STATUS_PENDING;
}
static NTSTATUS StubCreateConnector(NDK_ADAPTER *a, NDK_FN_CREATE_COMPLETION cc, PVOID rc,
                                    NDK_CONNECTOR **pp) {
  (void)cc, (void)rc, (void)pp;
  HIT(a);
  return STATUS_PENDING;
}
static NTSTATUS StubCreateListener(NDK_ADAPTER *a, NDK_FN_CONNECT_EVENT_CALLBACK ce, PVOID cec,
                                   NDK_FN_CREATE_COMPLETION cc, PVOID rc, NDK_LISTENER **pp) {
  (void)ce, (void)cec, (void)cc, (void)rc, (void)pp;
  HIT(a);
  return STATUS_PENDING;
}
static NTSTATUS StubBuildLam(NDK_ADAPTER *a, MDL *mdl, SIZE_T len, NDK_FN_REQUEST_COMPLETION c,
                             PVOID rc, NDK_LOGICAL_ADDRESS_MAPPING *lam, ULONG *lamsize,
                             ULONG *fbo) {
  (void)len, (void)c, (void)rc, (void)lam, (void)lamsize;
  HIT(a);
  *fbo = MmGetMdlByteOffset(mdl);
  return STATUS_SUCCESS;
}
static VOID StubReleaseLam(NDK_ADAPTER *a, NDK_LOGICAL_ADDRESS_MAPPING *lam) {
  (void)lam;
  HIT(a);
}
static NTSTATUS StubResizeCq(NDK_CQ *cq, ULONG d, NDK_FN_REQUEST_COMPLETION c, PVOID rc) {
  (void)d, (void)c, (void)rc;
  HIT(cq);
  return STATUS_SUCCESS;
}
static VOID StubArmCq(NDK_CQ *cq, ULONG type) {
  (void)type;
  HIT(cq);
}
static ULONG StubGetCqResults(NDK_CQ *cq, NDK_RESULT results[], ULONG n) {
  (void)results, (void)n;
  HIT(cq);
  return 0;
}
static ULONG StubGetCqResultsEx(NDK_CQ *cq, NDK_RESULT_EX results[], ULONG n) {
  (void)results, (void)n;
  HIT(cq);
  return 0;
}
static NTSTATUS StubModerate(NDK_CQ *cq, ULONG interval, ULONG count) {
  (void)interval, (void)count;
  HIT(cq);
  return STATUS_SUCCESS;
}
static NTSTATUS StubCreateMr(NDK_PD *pd, BOOLEAN fr, NDK_FN_CREATE_COMPLETION cc, PVOID rc,
                             NDK_MR **pp) {
  (void)fr, (void)cc, (void)rc, (void)pp;
  HIT(pd);
  return STATUS_PENDING;
}
static NTSTATUS StubCreateMw(NDK_PD *pd, NDK_FN_CREATE_COMPLETION cc, PVOID rc, NDK_MW **pp) {
  (void)cc, (void)rc, (void)pp;
  HIT(pd);
  return STATUS_PENDING;
}
static NTSTATUS StubCreateSrq(NDK_PD *pd, ULONG d, ULONG sge, ULONG thr,
                              NDK_FN_SRQ_NOTIFICATION_CALLBACK n, PVOID nc, GROUP_AFFINITY *af,
                              NDK_FN_CREATE_COMPLETION cc, PVOID rc, NDK_SRQ **pp) {
  (void)d, (void)sge, (void)thr, (void)n, (void)nc, (void)af, (void)cc, (void)rc, (void)pp;
  HIT(pd);
  return STATUS_PENDING;
}
static NTSTATUS StubCreateQp(NDK_PD *pd, NDK_CQ *rcq, NDK_CQ *icq, PVOID ctx, ULONG rqd,
                             ULONG iqd, ULONG rsge, ULONG isge, ULONG inl,
                             NDK_FN_CREATE_COMPLETION cc, PVOID rc, NDK_QP **pp) {
  (void)rcq, (void)icq, (void)ctx, (void)rqd, (void)iqd, (void)rsge, (void)isge, (void)inl;
  (void)cc, (void)rc, (void)pp;
  HIT(pd);
  return STATUS_PENDING;
}
static NTSTATUS StubCreateQpWithSrq(NDK_PD *pd, NDK_CQ *rcq, NDK_CQ *icq, NDK_SRQ *srq,
                                    PVOID ctx, ULONG iqd, ULONG isge, ULONG inl,
                                    NDK_FN_CREATE_COMPLETION cc, PVOID rc, NDK_QP **pp) {
  (void)rcq, (void)icq, (void)srq, (void)ctx, (void)iqd, (void)isge, (void)inl;
  (void)cc, (void)rc, (void)pp;
  HIT(pd);
  return STATUS_PENDING;
}
static VOID StubPrivToken(NDK_PD *pd, UINT32 *token) {
  HIT(pd);
  *token = 0x1234;
}
static NTSTATUS StubRegisterMr(NDK_MR *mr, MDL *mdl, SIZE_T len, ULONG flags,
                               NDK_FN_REQUEST_COMPLETION c, PVOID rc) {
  (void)mdl, (void)len, (void)flags, (void)c, (void)rc;
  HIT(mr);
  return STATUS_SUCCESS;
}
static NTSTATUS StubDeregisterMr(NDK_MR *mr, NDK_FN_REQUEST_COMPLETION c, PVOID rc) {
  (void)c, (void)rc;
  HIT(mr);
  return STATUS_SUCCESS;
}
static NTSTATUS StubInitFrMr(NDK_MR *mr, ULONG pages, BOOLEAN remote, NDK_FN_REQUEST_COMPLETION c,
                             PVOID rc) {
  (void)pages, (void)remote, (void)c, (void)rc;
  HIT(mr);
  return STATUS_SUCCESS;
}
static UINT32 StubRemoteTokenMr(NDK_MR *mr) {
  HIT(mr);
  return 1;
}
static UINT32 StubLocalTokenMr(NDK_MR *mr) {
  HIT(mr);
  return 2;
}
static UINT32 StubRemoteTokenMw(NDK_MW *mw) {
  HIT(mw);
  return 3;
}
static VOID StubFlush(NDK_QP *qp) { HIT(qp); }
static NTSTATUS StubSend(NDK_QP *qp, PVOID rc, const NDK_SGE *sgl, ULONG n, ULONG flags) {
  (void)rc, (void)sgl, (void)n, (void)flags;
  HIT(qp);
  return STATUS_SUCCESS;
}
static NTSTATUS StubReceive(NDK_QP *qp, PVOID rc, const NDK_SGE *sgl, ULONG n) {
  (void)rc, (void)sgl, (void)n;
  HIT(qp);
  return STATUS_SUCCESS;
}
static NTSTATUS StubBind(NDK_QP *qp, PVOID rc, NDK_MR *mr, NDK_MW *mw, PVOID va, SIZE_T len,
                         ULONG flags) {
  (void)rc, (void)mr, (void)mw, (void)va, (void)len, (void)flags;
  HIT(qp);
  return STATUS_SUCCESS;
}
static NTSTATUS StubFastRegister(NDK_QP *qp, PVOID rc, NDK_MR *mr, ULONG pages,
                                 const NDK_LOGICAL_ADDRESS *arr, ULONG fbo, SIZE_T len,
                                 PVOID base, ULONG flags) {
  (void)rc, (void)mr, (void)pages, (void)arr, (void)fbo, (void)len, (void)base, (void)flags;
  HIT(qp);
  return STATUS_SUCCESS;
}
static NTSTATUS StubInvalidate(NDK_QP *qp, PVOID rc, NDK_OBJECT_HEADER *obj, ULONG flags) {
  (void)rc, (void)obj, (void)flags;
  HIT(qp);
  return STATUS_SUCCESS;
}
static NTSTATUS StubRead(NDK_QP *qp, PVOID rc, const NDK_SGE *sgl, ULONG n, UINT64 ra,
                         UINT32 tok, ULONG flags) {
  (void)rc, (void)sgl, (void)n, (void)ra, (void)tok, (void)flags;
  HIT(qp);
  return STATUS_SUCCESS;
}
static NTSTATUS StubWrite(NDK_QP *qp, PVOID rc, const NDK_SGE *sgl, ULONG n, UINT64 ra,
                          UINT32 tok, ULONG flags) {
  (void)rc, (void)sgl, (void)n, (void)ra, (void)tok, (void)flags;
  HIT(qp);
  return STATUS_SUCCESS;
}
static NTSTATUS StubSendInv(NDK_QP *qp, PVOID rc, const NDK_SGE *sgl, ULONG n, ULONG flags,
                            UINT32 tok) {
  (void)rc, (void)sgl, (void)n, (void)flags, (void)tok;
  HIT(qp);
  return STATUS_SUCCESS;
}
static NTSTATUS StubModifySrq(NDK_SRQ *srq, ULONG d, ULONG thr, NDK_FN_REQUEST_COMPLETION c,
                              PVOID rc) {
  (void)d, (void)thr, (void)c, (void)rc;
  HIT(srq);
  return STATUS_SUCCESS;
}
static NTSTATUS StubSrqReceive(NDK_SRQ *srq, PVOID rc, const NDK_SGE *sgl, ULONG n) {
  (void)rc, (void)sgl, (void)n;
  HIT(srq);
  return STATUS_SUCCESS;
}
static NTSTATUS StubConnect(NDK_CONNECTOR *c, NDK_QP *qp, const PSOCKADDR src, ULONG srclen,
                            const PSOCKADDR dst, ULONG dstlen, ULONG ird, ULONG ord,
                            _In_reads_bytes_opt_(pdlen) const PVOID pd, ULONG pdlen,
                            NDK_FN_REQUEST_COMPLETION rcb, PVOID rc) {
  (void)qp, (void)src, (void)srclen, (void)dst, (void)dstlen, (void)ird, (void)ord, (void)pd;
  (void)pdlen, (void)rcb, (void)rc;
  HIT(c);
  return STATUS_PENDING;
}
static NTSTATUS StubConnectShared(NDK_CONNECTOR *c, NDK_QP *qp, NDK_SHARED_ENDPOINT *se,
                                  const PSOCKADDR dst, ULONG dstlen, ULONG ird, ULONG ord,
                                  const PVOID pd, ULONG pdlen, NDK_FN_REQUEST_COMPLETION rcb,
                                  PVOID rc) {
  (void)qp, (void)se, (void)dst, (void)dstlen, (void)ird, (void)ord, (void)pd, (void)pdlen;
  (void)rcb, (void)rc;
  HIT(c);
  return STATUS_PENDING;
}
static NTSTATUS StubCompleteConnect(NDK_CONNECTOR *c, NDK_FN_DISCONNECT_EVENT_CALLBACK de,
                                    PVOID dec, NDK_FN_REQUEST_COMPLETION rcb, PVOID rc) {
  (void)de, (void)dec, (void)rcb, (void)rc;
  HIT(c);
  return STATUS_SUCCESS;
}
static NTSTATUS StubAccept(NDK_CONNECTOR *c, NDK_QP *qp, ULONG ird, ULONG ord, const PVOID pd,
                           ULONG pdlen, NDK_FN_DISCONNECT_EVENT_CALLBACK de, PVOID dec,
                           NDK_FN_REQUEST_COMPLETION rcb, PVOID rc) {
  (void)qp, (void)ird, (void)ord, (void)pd, (void)pdlen, (void)de, (void)dec, (void)rcb, (void)rc;
  HIT(c);
  return STATUS_SUCCESS;
}
static NTSTATUS StubReject(NDK_CONNECTOR *c, const PVOID pd, ULONG pdlen) {
  (void)pd, (void)pdlen;
  HIT(c);
  return STATUS_SUCCESS;
}
static NTSTATUS StubGetConnectionData(NDK_CONNECTOR *c, ULONG *ird, ULONG *ord, PVOID pd,
                                      ULONG *pdlen) {
  (void)ird, (void)ord, (void)pd;
  HIT(c);
  *pdlen = 0;
  return STATUS_SUCCESS;
}
static NTSTATUS StubGetLocalAddress(NDK_CONNECTOR *c, PSOCKADDR a, ULONG *len) {
  (void)a, (void)len;
  HIT(c);
  return STATUS_SUCCESS;
}
static NTSTATUS StubGetPeerAddress(NDK_CONNECTOR *c, PSOCKADDR a, ULONG *len) {
  (void)a, (void)len;
  HIT(c);
  return STATUS_SUCCESS;
}
static NTSTATUS StubDisconnect(NDK_CONNECTOR *c, NDK_FN_REQUEST_COMPLETION rcb, PVOID rc) {
  (void)rcb, (void)rc;
  HIT(c);
  return STATUS_SUCCESS;
}
static NTSTATUS StubCompleteConnectEx(NDK_CONNECTOR *c, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX de,
                                      PVOID dec, NDK_FN_REQUEST_COMPLETION rcb, PVOID rc) {
  (void)de, (void)dec, (void)rcb, (void)rc;
  HIT(c);
  return STATUS_SUCCESS;
}
static NTSTATUS StubAcceptEx(NDK_CONNECTOR *c, NDK_QP *qp, ULONG ird, ULONG ord, const PVOID pd,
                             ULONG pdlen, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX de, PVOID dec,
                             NDK_FN_REQUEST_COMPLETION rcb, PVOID rc) {
  (void)qp, (void)ird, (void)ord, (void)pd, (void)pdlen, (void)de, (void)dec, (void)rcb, (void)rc;
  HIT(c);
  return STATUS_SUCCESS;
}
static NTSTATUS StubListen(NDK_LISTENER *l, const PSOCKADDR a, ULONG len,
                           NDK_FN_REQUEST_COMPLETION rcb, PVOID rc) {
  (void)a, (void)len, (void)rcb, (void)rc;
  HIT(l);
  return STATUS_SUCCESS;
}
static NTSTATUS StubListenerAddress(NDK_LISTENER *l, PSOCKADDR a, ULONG *len) {
  (void)a, (void)len;
  HIT(l);
  return STATUS_SUCCESS;
}
static VOID StubControlConnectEvents(NDK_LISTENER *l, BOOLEAN pause) {
  (void)pause;
  HIT(l);
}
static NTSTATUS StubSharedEndpointAddress(NDK_SHARED_ENDPOINT *se, PSOCKADDR a, ULONG *len) {
  (void)a, (void)len;
  HIT(se);
  return STATUS_SUCCESS;
}

static const NDK_ADAPTER_DISPATCH kAdapterDispatch = {
    .NdkQueryExtension = StubQueryExtension,
    .NdkQueryAdapterInfo = StubQueryAdapterInfo,
    .NdkCreateCq = StubCreateCq,
    .NdkCreatePd = StubCreatePd,
    .NdkCreateSharedEndpoint = StubCreateSharedEndpoint,
    .NdkCreateConnector = StubCreateConnector,
    .NdkCreateListener = StubCreateListener,
    .NdkBuildLAM = StubBuildLam,
    .NdkReleaseLAM = StubReleaseLam,
};
static const NDK_CQ_DISPATCH kCqDispatch = {
    .NdkCloseCq = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkResizeCq = StubResizeCq,
    .NdkArmCq = StubArmCq,
    .NdkGetCqResults = StubGetCqResults,
    .NdkControlCqInterruptModeration = StubModerate,
    .NdkGetCqResultsEx = StubGetCqResultsEx,
};
static const NDK_PD_DISPATCH kPdDispatch = {
    .NdkClosePd = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkCreateMr = StubCreateMr,
    .NdkCreateMw = StubCreateMw,
    .NdkCreateSrq = StubCreateSrq,
    .NdkCreateQp = StubCreateQp,
    .NdkCreateQpWithSrq = StubCreateQpWithSrq,
    .NdkGetPrivilegedMemoryRegionToken = StubPrivToken,
};
static const NDK_MR_DISPATCH kMrDispatch = {
    .NdkCloseMr = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkRegisterMr = StubRegisterMr,
    .NdkDeregisterMr = StubDeregisterMr,
    .NdkInitializeFastRegisterMr = StubInitFrMr,
    .NdkGetRemoteTokenFromMr = StubRemoteTokenMr,
    .NdkGetLocalTokenFromMr = StubLocalTokenMr,
};
static const NDK_MW_DISPATCH kMwDispatch = {
    .NdkCloseMw = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkGetRemoteTokenFromMw = StubRemoteTokenMw,
};
static const NDK_QP_DISPATCH kQpDispatch = {
    .NdkCloseQp = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkFlush = StubFlush,
    .NdkSend = StubSend,
    .NdkReceive = StubReceive,
    .NdkBind = StubBind,
    .NdkFastRegister = StubFastRegister,
    .NdkInvalidate = StubInvalidate,
    .NdkRead = StubRead,
    .NdkWrite = StubWrite,
    .NdkSendAndInvalidate = StubSendInv,
};
static const NDK_SRQ_DISPATCH kSrqDispatch = {
    .NdkCloseSrq = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkModifySrq = StubModifySrq,
    .NdkSrqReceive = StubSrqReceive,
};
static const NDK_CONNECTOR_DISPATCH kConnectorDispatch = {
    .NdkCloseConnector = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkConnect = StubConnect,
    .NdkConnectWithSharedEndpoint = StubConnectShared,
    .NdkCompleteConnect = StubCompleteConnect,
    .NdkAccept = StubAccept,
    .NdkReject = StubReject,
    .NdkGetConnectionData = StubGetConnectionData,
    .NdkGetLocalAddress = StubGetLocalAddress,
    .NdkGetPeerAddress = StubGetPeerAddress,
    .NdkDisconnect = StubDisconnect,
    .NdkCompleteConnectEx = StubCompleteConnectEx,
    .NdkAcceptEx = StubAcceptEx,
};
static const NDK_LISTENER_DISPATCH kListenerDispatch = {
    .NdkCloseListener = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkListen = StubListen,
    .NdkGetLocalAddress = StubListenerAddress,
    .NdkControlConnectEvents = StubControlConnectEvents,
};
static const NDK_SHARED_ENDPOINT_DISPATCH kSharedEndpointDispatch = {
    .NdkCloseSharedEndpoint = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkGetLocalAddress = StubSharedEndpointAddress,
};

/* Every table member is set (no NULL left by a forgotten initializer, R4). */
static void expect_no_null(const char *name, const void *table, size_t size) {
  void (*const *members)(void) = (void (*const *)(void))table;
  for (size_t i = 0; i < size / sizeof(members[0]); ++i) {
    if (members[i] == NULL) {
      printf("FAIL %s member %zu is NULL\n", name, i + 1);
      ++g_failures;
    }
  }
}

static void expect_call(const char *fn, const void *obj) {
  ++g_calls;
  if (g_last == NULL || strcmp(g_last, fn) != 0 || g_last_obj != obj) {
    printf("FAIL expected %s(%p), got %s(%p)\n", fn, obj, g_last ? g_last : "-", g_last_obj);
    ++g_failures;
  }
  g_last = NULL;
  g_last_obj = NULL;
}

#define INIT_OBJECT(obj, type, table)              \
  do {                                             \
    memset(&(obj), 0, sizeof(obj));                \
    (obj).Header.Version.Major = 1;                \
    (obj).Header.Version.Minor = 2;                \
    (obj).Header.ObjectType = (type);              \
    (obj).Dispatch = &(table);                     \
  } while (0)

int main(void) {
  NDK_ADAPTER adapter;
  NDK_CQ cq;
  NDK_PD pd;
  NDK_MR mr;
  NDK_MW mw;
  NDK_QP qp;
  NDK_SRQ srq;
  NDK_CONNECTOR conn;
  NDK_LISTENER listener;
  NDK_SHARED_ENDPOINT se;
  INIT_OBJECT(adapter, NdkObjectTypeAdapter, kAdapterDispatch);
  INIT_OBJECT(cq, NdkObjectTypeCq, kCqDispatch);
  INIT_OBJECT(pd, NdkObjectTypePd, kPdDispatch);
  INIT_OBJECT(mr, NdkObjectTypeMr, kMrDispatch);
  INIT_OBJECT(mw, NdkObjectTypeMw, kMwDispatch);
  INIT_OBJECT(qp, NdkObjectTypeQp, kQpDispatch);
  INIT_OBJECT(srq, NdkObjectTypeSrq, kSrqDispatch);
  INIT_OBJECT(conn, NdkObjectTypeConnector, kConnectorDispatch);
  INIT_OBJECT(listener, NdkObjectTypeListener, kListenerDispatch);
  INIT_OBJECT(se, NdkObjectTypeSharedEndpoint, kSharedEndpointDispatch);

  expect_no_null("adapter", &kAdapterDispatch, sizeof(kAdapterDispatch));
  expect_no_null("cq", &kCqDispatch, sizeof(kCqDispatch));
  expect_no_null("pd", &kPdDispatch, sizeof(kPdDispatch));
  expect_no_null("mr", &kMrDispatch, sizeof(kMrDispatch));
  expect_no_null("mw", &kMwDispatch, sizeof(kMwDispatch));
  expect_no_null("qp", &kQpDispatch, sizeof(kQpDispatch));
  expect_no_null("srq", &kSrqDispatch, sizeof(kSrqDispatch));
  expect_no_null("connector", &kConnectorDispatch, sizeof(kConnectorDispatch));
  expect_no_null("listener", &kListenerDispatch, sizeof(kListenerDispatch));
  expect_no_null("shared endpoint", &kSharedEndpointDispatch, sizeof(kSharedEndpointDispatch));

  GUID guid = {0x12345678, 0x1234, 0x5678, {1, 2, 3, 4, 5, 6, 7, 8}};
  NDK_VERSION v = {1, 0};
  NDK_EXTENSION_INTERFACE ext;
  NDK_SGE sge = {.VirtualAddress = &guid, .Length = sizeof(guid), .MemoryRegionToken = 1};
  NDK_RESULT results[2];
  NDK_RESULT_EX results_ex[2];
  SOCKADDR_IN sin;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(445);
  ULONG len = sizeof(sin);
  UINT32 token = 0;
  NDK_LOGICAL_ADDRESS page = {.QuadPart = 0x1000};
  char buffer[64];
  MDL *mdl = IoAllocateMdl(buffer + 3, sizeof(buffer) - 3, FALSE, FALSE, NULL);
  if (mdl == NULL) {
    printf("FAIL IoAllocateMdl\n");
    return 1;
  }
  MmBuildMdlForNonPagedPool(mdl);

  /* Adapter */
  NDK_ADAPTER_INFO info;
  ULONG info_size = 0;
  if (adapter.Dispatch->NdkQueryAdapterInfo(&adapter, &info, &info_size) != STATUS_BUFFER_TOO_SMALL ||
      info_size != sizeof(NDK_ADAPTER_INFO)) {
    printf("FAIL NdkQueryAdapterInfo size query\n");
    ++g_failures;
  }
  expect_call("StubQueryAdapterInfo", &adapter);
  adapter.Dispatch->NdkQueryExtension(&adapter.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &adapter);
  adapter.Dispatch->NdkCreateCq(&adapter, 16, NULL, NULL, NULL, NULL, NULL, NULL);
  expect_call("StubCreateCq", &adapter);
  adapter.Dispatch->NdkCreatePd(&adapter, NULL, NULL, NULL);
  expect_call("StubCreatePd", &adapter);
  adapter.Dispatch->NdkCreateSharedEndpoint(&adapter, (PSOCKADDR)&sin, len, NULL, NULL, NULL);
  expect_call("StubCreateSharedEndpoint", &adapter);
  adapter.Dispatch->NdkCreateConnector(&adapter, NULL, NULL, NULL);
  expect_call("StubCreateConnector", &adapter);
  adapter.Dispatch->NdkCreateListener(&adapter, NULL, NULL, NULL, NULL, NULL);
  expect_call("StubCreateListener", &adapter);
  ULONG lam_size = 0;
  ULONG fbo = 0;
  adapter.Dispatch->NdkBuildLAM(&adapter, mdl, 10, NULL, NULL, NULL, &lam_size, &fbo);
  expect_call("StubBuildLam", &adapter);
  if (fbo != BYTE_OFFSET(buffer + 3)) {
    printf("FAIL FBO %u\n", (unsigned)fbo);
    ++g_failures;
  }
  adapter.Dispatch->NdkReleaseLAM(&adapter, NULL);
  expect_call("StubReleaseLam", &adapter);
  /* CQ */
  cq.Dispatch->NdkCloseCq(&cq.Header, NULL, NULL);
  expect_call("StubClose", &cq);
  cq.Dispatch->NdkQueryExtension(&cq.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &cq);
  cq.Dispatch->NdkResizeCq(&cq, 32, NULL, NULL);
  expect_call("StubResizeCq", &cq);
  cq.Dispatch->NdkArmCq(&cq, NDK_CQ_NOTIFY_ANY);
  expect_call("StubArmCq", &cq);
  cq.Dispatch->NdkGetCqResults(&cq, results, 2);
  expect_call("StubGetCqResults", &cq);
  cq.Dispatch->NdkControlCqInterruptModeration(&cq, 0, 0);
  expect_call("StubModerate", &cq);
  cq.Dispatch->NdkGetCqResultsEx(&cq, results_ex, 2);
  expect_call("StubGetCqResultsEx", &cq);
  /* PD */
  pd.Dispatch->NdkClosePd(&pd.Header, NULL, NULL);
  expect_call("StubClose", &pd);
  pd.Dispatch->NdkQueryExtension(&pd.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &pd);
  pd.Dispatch->NdkCreateMr(&pd, TRUE, NULL, NULL, NULL);
  expect_call("StubCreateMr", &pd);
  pd.Dispatch->NdkCreateMw(&pd, NULL, NULL, NULL);
  expect_call("StubCreateMw", &pd);
  pd.Dispatch->NdkCreateSrq(&pd, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL);
  expect_call("StubCreateSrq", &pd);
  pd.Dispatch->NdkCreateQp(&pd, &cq, &cq, NULL, 1, 1, 1, 1, 0, NULL, NULL, NULL);
  expect_call("StubCreateQp", &pd);
  pd.Dispatch->NdkCreateQpWithSrq(&pd, &cq, &cq, &srq, NULL, 1, 1, 0, NULL, NULL, NULL);
  expect_call("StubCreateQpWithSrq", &pd);
  pd.Dispatch->NdkGetPrivilegedMemoryRegionToken(&pd, &token);
  expect_call("StubPrivToken", &pd);
  /* MR */
  mr.Dispatch->NdkCloseMr(&mr.Header, NULL, NULL);
  expect_call("StubClose", &mr);
  mr.Dispatch->NdkQueryExtension(&mr.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &mr);
  mr.Dispatch->NdkRegisterMr(&mr, mdl, 10, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NULL, NULL);
  expect_call("StubRegisterMr", &mr);
  mr.Dispatch->NdkDeregisterMr(&mr, NULL, NULL);
  expect_call("StubDeregisterMr", &mr);
  mr.Dispatch->NdkInitializeFastRegisterMr(&mr, 16, TRUE, NULL, NULL);
  expect_call("StubInitFrMr", &mr);
  mr.Dispatch->NdkGetRemoteTokenFromMr(&mr);
  expect_call("StubRemoteTokenMr", &mr);
  mr.Dispatch->NdkGetLocalTokenFromMr(&mr);
  expect_call("StubLocalTokenMr", &mr);
  /* MW */
  mw.Dispatch->NdkCloseMw(&mw.Header, NULL, NULL);
  expect_call("StubClose", &mw);
  mw.Dispatch->NdkQueryExtension(&mw.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &mw);
  mw.Dispatch->NdkGetRemoteTokenFromMw(&mw);
  expect_call("StubRemoteTokenMw", &mw);
  /* QP */
  qp.Dispatch->NdkCloseQp(&qp.Header, NULL, NULL);
  expect_call("StubClose", &qp);
  qp.Dispatch->NdkQueryExtension(&qp.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &qp);
  qp.Dispatch->NdkFlush(&qp);
  expect_call("StubFlush", &qp);
  qp.Dispatch->NdkSend(&qp, NULL, &sge, 1, NDK_OP_FLAG_SILENT_SUCCESS);
  expect_call("StubSend", &qp);
  qp.Dispatch->NdkReceive(&qp, NULL, &sge, 1);
  expect_call("StubReceive", &qp);
  qp.Dispatch->NdkBind(&qp, NULL, &mr, &mw, buffer, 8, NDK_OP_FLAG_ALLOW_REMOTE_READ);
  expect_call("StubBind", &qp);
  qp.Dispatch->NdkFastRegister(&qp, NULL, &mr, 1, &page, 0, 100, buffer, 0);
  expect_call("StubFastRegister", &qp);
  qp.Dispatch->NdkInvalidate(&qp, NULL, &mr.Header, 0);
  expect_call("StubInvalidate", &qp);
  qp.Dispatch->NdkRead(&qp, NULL, &sge, 1, 0x1000, 7, NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE);
  expect_call("StubRead", &qp);
  qp.Dispatch->NdkWrite(&qp, NULL, &sge, 1, 0x1000, 7, NDK_OP_FLAG_DEFER);
  expect_call("StubWrite", &qp);
  qp.Dispatch->NdkSendAndInvalidate(&qp, NULL, &sge, 1, 0, 7);
  expect_call("StubSendInv", &qp);
  /* SRQ */
  srq.Dispatch->NdkCloseSrq(&srq.Header, NULL, NULL);
  expect_call("StubClose", &srq);
  srq.Dispatch->NdkQueryExtension(&srq.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &srq);
  srq.Dispatch->NdkModifySrq(&srq, 0, 0, NULL, NULL);
  expect_call("StubModifySrq", &srq);
  srq.Dispatch->NdkSrqReceive(&srq, NULL, &sge, 1);
  expect_call("StubSrqReceive", &srq);
  /* Connector */
  conn.Dispatch->NdkCloseConnector(&conn.Header, NULL, NULL);
  expect_call("StubClose", &conn);
  conn.Dispatch->NdkQueryExtension(&conn.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &conn);
  conn.Dispatch->NdkConnect(&conn, &qp, (PSOCKADDR)&sin, len, (PSOCKADDR)&sin, len, 1, 1, NULL, 0,
                            NULL, NULL);
  expect_call("StubConnect", &conn);
  conn.Dispatch->NdkConnectWithSharedEndpoint(&conn, &qp, &se, (PSOCKADDR)&sin, len, 1, 1, NULL,
                                              0, NULL, NULL);
  expect_call("StubConnectShared", &conn);
  conn.Dispatch->NdkCompleteConnect(&conn, NULL, NULL, NULL, NULL);
  expect_call("StubCompleteConnect", &conn);
  conn.Dispatch->NdkAccept(&conn, &qp, 1, 1, NULL, 0, NULL, NULL, NULL, NULL);
  expect_call("StubAccept", &conn);
  conn.Dispatch->NdkReject(&conn, NULL, 0);
  expect_call("StubReject", &conn);
  conn.Dispatch->NdkGetConnectionData(&conn, NULL, NULL, NULL, &len);
  expect_call("StubGetConnectionData", &conn);
  conn.Dispatch->NdkGetLocalAddress(&conn, (PSOCKADDR)&sin, &len);
  expect_call("StubGetLocalAddress", &conn);
  conn.Dispatch->NdkGetPeerAddress(&conn, (PSOCKADDR)&sin, &len);
  expect_call("StubGetPeerAddress", &conn);
  conn.Dispatch->NdkDisconnect(&conn, NULL, NULL);
  expect_call("StubDisconnect", &conn);
  conn.Dispatch->NdkCompleteConnectEx(&conn, NULL, NULL, NULL, NULL);
  expect_call("StubCompleteConnectEx", &conn);
  conn.Dispatch->NdkAcceptEx(&conn, &qp, 1, 1, NULL, 0, NULL, NULL, NULL, NULL);
  expect_call("StubAcceptEx", &conn);
  /* Listener */
  listener.Dispatch->NdkCloseListener(&listener.Header, NULL, NULL);
  expect_call("StubClose", &listener);
  listener.Dispatch->NdkQueryExtension(&listener.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &listener);
  listener.Dispatch->NdkListen(&listener, (PSOCKADDR)&sin, len, NULL, NULL);
  expect_call("StubListen", &listener);
  listener.Dispatch->NdkGetLocalAddress(&listener, (PSOCKADDR)&sin, &len);
  expect_call("StubListenerAddress", &listener);
  listener.Dispatch->NdkControlConnectEvents(&listener, TRUE);
  expect_call("StubControlConnectEvents", &listener);
  /* Shared endpoint */
  se.Dispatch->NdkCloseSharedEndpoint(&se.Header, NULL, NULL);
  expect_call("StubClose", &se);
  se.Dispatch->NdkQueryExtension(&se.Header, &guid, v, &ext);
  expect_call("StubQueryExtension", &se);
  se.Dispatch->NdkGetLocalAddress(&se, (PSOCKADDR)&sin, &len);
  expect_call("StubSharedEndpointAddress", &se);

  IoFreeMdl(mdl);
  printf("abi_dispatch_c: %d calls, %d failures\n", g_calls, g_failures);
  return g_failures == 0 ? 0 : 1;
}
