/*
 * A kernel-mode NDK consumer written the way Windows drivers are (a socket-like layer over
 * NDKPI), built for OpenNDK with only its includes changed: <wdk/ntddk.h>, <wdk/wsk.h>,
 * <wdk/wskndk.h>, <wdk/netioapi.h> and <ndk/ndk.h> stand for <ntddk.h>, <wsk.h>, <wskndk.h>,
 * <netioapi.h> and <ndkpi.h>. Everything below uses Windows names only.
 *
 * What it exercises, as such consumers do: WSK registration and the NDK extension to open one
 * adapter instance per socket; KEVENT-wrapped asynchronous NDK calls; a listener whose connect
 * event queues a work item that accepts with the QP of a new socket (another adapter instance);
 * armed CQs whose notification sets a KEVENT; NdkBuildLAM over pool memory whose first-byte offset
 * is taken to be 0; fast-register MRs whose remote tokens are read once after
 * NdkInitializeFastRegisterMr and reused for every registration; Send, SendAndInvalidate, Read
 * and Write with NDK_OP_FLAG_DEFER; interrupt moderation; disconnect, flush and close (the PD
 * closed before its MRs, its context freed in its close callback).
 *
 * Run over loopback; exit status 0 when every transfer was verified.
 */
#include <wdk/ntddk.h>
#include <wdk/netioapi.h>
#include <wdk/wsk.h>
#include <wdk/wskndk.h>
#include <ndk/ndk.h>

#include <stdio.h>

#define NDKS_TAG 'skdN'
#define NDKS_FR_MR_COUNT 8
#define NDKS_DATA_PAGES 4
#define NDKS_DATA_BYTES (NDKS_DATA_PAGES * PAGE_SIZE)
#define NDKS_CTRL_BYTES 256
#define NDKS_QUEUE_DEPTH 32
#define NDKS_WAIT_100NS (-10LL * 1000 * 1000 * 10) /* 10 s, relative */

static int g_Failures;
#define NDKS_CHECK(cond, ...)                      \
  do {                                             \
    if (!(cond)) {                                 \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);  \
      printf(__VA_ARGS__);                         \
      printf("\n");                                \
      ++g_Failures;                                \
    }                                              \
  } while (0)

/* ---- KEVENT-wrapped asynchronous calls --------------------------------------------------- */

typedef struct _NDKS_SYNC {
  KEVENT Event;
  NTSTATUS Status;
  NDK_OBJECT_HEADER *Object;
} NDKS_SYNC;

static VOID NdksSyncInit(_Out_ NDKS_SYNC *Sync) {
  KeInitializeEvent(&Sync->Event, NotificationEvent, FALSE);
  Sync->Status = STATUS_PENDING;
  Sync->Object = NULL;
}

static VOID NdksRequestDone(_In_opt_ PVOID Context, _In_ NTSTATUS Status) {
  NDKS_SYNC *sync = (NDKS_SYNC *)Context;
  sync->Status = Status;
  KeSetEvent(&sync->Event, IO_NO_INCREMENT, FALSE);
}

static VOID NdksCreateDone(_In_opt_ PVOID Context, _In_ NTSTATUS Status, _In_ NDK_OBJECT_HEADER *Object) {
  NDKS_SYNC *sync = (NDKS_SYNC *)Context;
  sync->Object = Object;
  NdksRequestDone(Context, Status);
}

static VOID NdksCloseDone(_In_opt_ PVOID Context) { NdksRequestDone(Context, STATUS_SUCCESS); }

/* The status of a call whose completion signals Sync when it returned STATUS_PENDING. */
_IRQL_requires_(PASSIVE_LEVEL)
static NTSTATUS NdksWait(_Inout_ NDKS_SYNC *Sync, _In_ NTSTATUS Status) {
  LARGE_INTEGER timeout;
  PAGED_CODE();
  if (Status != STATUS_PENDING) return Status;
  timeout.QuadPart = NDKS_WAIT_100NS;
  if (KeWaitForSingleObject(&Sync->Event, Executive, KernelMode, FALSE, &timeout) != STATUS_SUCCESS)
    return STATUS_IO_TIMEOUT;
  return Sync->Status;
}

/* ---- WSK and the NDK extension ------------------------------------------------------------ */

static const WSK_CLIENT_DISPATCH g_WskClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WSK_REGISTRATION g_WskRegistration;
static WSK_PROVIDER_NPI g_WskProvider;
static WSK_PROVIDER_NDK_DISPATCH g_NdkDispatch;
static DEVICE_OBJECT g_DeviceObject;

_IRQL_requires_(PASSIVE_LEVEL)
static NTSTATUS NdksWskStart(VOID) {
  WSK_CLIENT_NPI npi;
  NTSTATUS status;
  npi.ClientContext = NULL;
  npi.Dispatch = &g_WskClientDispatch;
  status = WskRegister(&npi, &g_WskRegistration);
  if (!NT_SUCCESS(status)) return status;
  status = WskCaptureProviderNPI(&g_WskRegistration, WSK_INFINITE_WAIT, &g_WskProvider);
  if (!NT_SUCCESS(status)) {
    WskDeregister(&g_WskRegistration);
    return status;
  }
  RtlZeroMemory(&g_NdkDispatch, sizeof(g_NdkDispatch));
  status = g_WskProvider.Dispatch->WskControlClient(g_WskProvider.Client, WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH, 0,
                                                    NULL, sizeof(g_NdkDispatch), &g_NdkDispatch, NULL, NULL);
  if (!NT_SUCCESS(status) || g_NdkDispatch.WskOpenNdkAdapter == NULL) {
    WskReleaseProviderNPI(&g_WskRegistration);
    WskDeregister(&g_WskRegistration);
    return NT_SUCCESS(status) ? STATUS_NOINTERFACE : status;
  }
  return STATUS_SUCCESS;
}

static VOID NdksWskStop(VOID) {
  WskReleaseProviderNPI(&g_WskRegistration);
  WskDeregister(&g_WskRegistration);
}

/* ---- Sockets: one adapter instance each ---------------------------------------------------- */

typedef struct _NDKS_ADVERT { /* what the passive side tells its peer */
  UINT64 Address;
  UINT32 Token;
  UINT32 Length;
  UINT32 Round;
} NDKS_ADVERT;

typedef struct _NDKS_PD_CONTEXT { /* freed in the PD's close callback */
  KEVENT Closed;
  LONG MrCount;
} NDKS_PD_CONTEXT;

typedef struct _NDKS_SOCKET {
  LIST_ENTRY Link;
  NDK_ADAPTER *Adapter;
  NDK_ADAPTER_INFO Info;
  NDK_CQ *Cq;
  KEVENT CqEvent;
  NDK_PD *Pd;
  NDKS_PD_CONTEXT *PdContext;
  NDK_QP *Qp;
  NDK_CONNECTOR *Connector;
  KEVENT Disconnected;
  EX_RUNDOWN_REF Rundown;
  PUCHAR Data;  /* NDKS_DATA_BYTES of pool: page-aligned */
  PMDL DataMdl;
  NDK_LOGICAL_ADDRESS_MAPPING *Lam;
  PUCHAR Ctrl;  /* control messages */
  PMDL CtrlMdl;
  NDK_MR *CtrlMr;
  NDK_MR *FrMr[NDKS_FR_MR_COUNT];
  UINT32 FrToken[NDKS_FR_MR_COUNT]; /* read once, after NdkInitializeFastRegisterMr */
} NDKS_SOCKET;

static VOID NdksCqNotify(_In_opt_ PVOID Context, _In_ NTSTATUS Status) {
  NDKS_SOCKET *socket = (NDKS_SOCKET *)Context;
  UNREFERENCED_PARAMETER(Status);
  KeSetEvent(&socket->CqEvent, IO_NO_INCREMENT, FALSE);
}

static VOID NdksDisconnectEvent(_In_opt_ PVOID Context) {
  NDKS_SOCKET *socket = (NDKS_SOCKET *)Context;
  KeSetEvent(&socket->Disconnected, IO_NO_INCREMENT, FALSE);
}

static VOID NdksPdClosed(_In_opt_ PVOID Context) {
  NDKS_PD_CONTEXT *pd = (NDKS_PD_CONTEXT *)Context;
  /* The consumer frees what its PD owned here: its MR closes must all have returned (R24/R26). */
  NT_VERIFY(pd->MrCount == 0);
  if (pd->MrCount != 0) ++g_Failures;
  KeSetEvent(&pd->Closed, IO_NO_INCREMENT, FALSE);
}

/* Waits for one completion on the socket's CQ (arming it and sleeping on its KEVENT). */
_IRQL_requires_(PASSIVE_LEVEL)
static NTSTATUS NdksReap(_In_ NDKS_SOCKET *Socket, _Out_ NDK_RESULT_EX *Result) {
  for (;;) {
    LARGE_INTEGER timeout;
    if (Socket->Cq->Dispatch->NdkGetCqResultsEx(Socket->Cq, Result, 1) == 1) return STATUS_SUCCESS;
    Socket->Cq->Dispatch->NdkArmCq(Socket->Cq, NDK_CQ_NOTIFY_ANY);
    if (Socket->Cq->Dispatch->NdkGetCqResultsEx(Socket->Cq, Result, 1) == 1) return STATUS_SUCCESS;
    timeout.QuadPart = NDKS_WAIT_100NS;
    if (KeWaitForSingleObject(&Socket->CqEvent, Executive, KernelMode, FALSE, &timeout) == STATUS_TIMEOUT)
      return STATUS_IO_TIMEOUT;
  }
}

static PMDL NdksAllocateMdl(_In_ PVOID Buffer, _In_ ULONG Length) {
  PMDL mdl = IoAllocateMdl(Buffer, Length, FALSE, FALSE, NULL);
  if (mdl != NULL) MmBuildMdlForNonPagedPool(mdl);
  return mdl;
}

_IRQL_requires_(PASSIVE_LEVEL)
static NTSTATUS NdksSocketOpen(_In_ NET_IFINDEX IfIndex, _Outptr_ NDKS_SOCKET **Out) {
  NDKS_SYNC sync;
  NTSTATUS status;
  NDK_VERSION version = {2, 0};
  ULONG size = sizeof(NDK_ADAPTER_INFO);
  NDKS_SOCKET *s = (NDKS_SOCKET *)ExAllocatePoolWithTagPriority(NonPagedPoolNx, sizeof(NDKS_SOCKET), NDKS_TAG,
                                                               NormalPoolPriority);
  PAGED_CODE();
  *Out = NULL;
  if (s == NULL) return STATUS_INSUFFICIENT_RESOURCES;
  RtlZeroMemory(s, sizeof(*s));
  InitializeListHead(&s->Link);
  KeInitializeEvent(&s->CqEvent, SynchronizationEvent, FALSE);
  KeInitializeEvent(&s->Disconnected, NotificationEvent, FALSE);
  ExInitializeRundownProtection(&s->Rundown);
  status = g_NdkDispatch.WskOpenNdkAdapter(g_WskProvider.Client, version, IfIndex, &s->Adapter);
  if (!NT_SUCCESS(status)) goto fail;
  s->Info.Version = s->Adapter->Header.Version;
  status = s->Adapter->Dispatch->NdkQueryAdapterInfo(s->Adapter, &s->Info, &size);
  if (!NT_SUCCESS(status)) goto fail;

  NdksSyncInit(&sync);
  status = NdksWait(&sync, s->Adapter->Dispatch->NdkCreateCq(s->Adapter, 4 * NDKS_QUEUE_DEPTH, NdksCqNotify, s, NULL,
                                                              NdksCreateDone, &sync, &s->Cq));
  if (!NT_SUCCESS(status)) goto fail;
  if (sync.Object != NULL) s->Cq = (NDK_CQ *)sync.Object;
  if (s->Info.AdapterFlags & NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED) {
    status = s->Cq->Dispatch->NdkControlCqInterruptModeration(s->Cq, 50, 4);
    NDKS_CHECK(status == STATUS_SUCCESS, "NdkControlCqInterruptModeration 0x%08X", (unsigned)status);
  }
  NdksSyncInit(&sync);
  status = NdksWait(&sync, s->Adapter->Dispatch->NdkCreatePd(s->Adapter, NdksCreateDone, &sync, &s->Pd));
  if (!NT_SUCCESS(status)) goto fail;
  if (sync.Object != NULL) s->Pd = (NDK_PD *)sync.Object;
  s->PdContext = (NDKS_PD_CONTEXT *)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(NDKS_PD_CONTEXT), NDKS_TAG);
  if (s->PdContext == NULL) {
    status = STATUS_INSUFFICIENT_RESOURCES;
    goto fail;
  }
  KeInitializeEvent(&s->PdContext->Closed, NotificationEvent, FALSE);
  NdksSyncInit(&sync);
  status = NdksWait(&sync, s->Pd->Dispatch->NdkCreateQp(s->Pd, s->Cq, s->Cq, s, NDKS_QUEUE_DEPTH, NDKS_QUEUE_DEPTH, 2,
                                                        2, 0, NdksCreateDone, &sync, &s->Qp));
  if (!NT_SUCCESS(status)) goto fail;
  if (sync.Object != NULL) s->Qp = (NDK_QP *)sync.Object;

  /* Data buffer: a page-sized pool block starts on a page, so the first-byte offset is 0. */
  s->Data = (PUCHAR)ExAllocatePoolWithTag(NonPagedPoolNx, NDKS_DATA_BYTES, NDKS_TAG);
  s->Ctrl = (PUCHAR)ExAllocatePoolWithTag(NonPagedPoolNx, NDKS_CTRL_BYTES, NDKS_TAG);
  if (s->Data == NULL || s->Ctrl == NULL) {
    status = STATUS_INSUFFICIENT_RESOURCES;
    goto fail;
  }
  RtlZeroMemory(s->Data, NDKS_DATA_BYTES);
  s->DataMdl = NdksAllocateMdl(s->Data, NDKS_DATA_BYTES);
  s->CtrlMdl = NdksAllocateMdl(s->Ctrl, NDKS_CTRL_BYTES);
  if (s->DataMdl == NULL || s->CtrlMdl == NULL) {
    status = STATUS_INSUFFICIENT_RESOURCES;
    goto fail;
  }
  NDKS_CHECK(MmGetMdlByteOffset(s->DataMdl) == 0, "pool block of %u bytes is not page-aligned", NDKS_DATA_BYTES);

  NdksSyncInit(&sync);
  status = NdksWait(&sync, s->Pd->Dispatch->NdkCreateMr(s->Pd, FALSE, NdksCreateDone, &sync, &s->CtrlMr));
  if (!NT_SUCCESS(status)) goto fail;
  if (sync.Object != NULL) s->CtrlMr = (NDK_MR *)sync.Object;
  InterlockedIncrement(&s->PdContext->MrCount);
  NdksSyncInit(&sync);
  status = NdksWait(&sync, s->CtrlMr->Dispatch->NdkRegisterMr(s->CtrlMr, s->CtrlMdl, NDKS_CTRL_BYTES,
                                                              NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NdksRequestDone, &sync));
  if (!NT_SUCCESS(status)) goto fail;

  for (ULONG i = 0; i < NDKS_FR_MR_COUNT; ++i) {
    NdksSyncInit(&sync);
    status = NdksWait(&sync, s->Pd->Dispatch->NdkCreateMr(s->Pd, TRUE, NdksCreateDone, &sync, &s->FrMr[i]));
    if (!NT_SUCCESS(status)) goto fail;
    if (sync.Object != NULL) s->FrMr[i] = (NDK_MR *)sync.Object;
    InterlockedIncrement(&s->PdContext->MrCount);
    NdksSyncInit(&sync);
    status = NdksWait(&sync, s->FrMr[i]->Dispatch->NdkInitializeFastRegisterMr(s->FrMr[i], NDKS_DATA_PAGES, TRUE,
                                                                                NdksRequestDone, &sync));
    if (!NT_SUCCESS(status)) goto fail;
    s->FrToken[i] = s->FrMr[i]->Dispatch->NdkGetRemoteTokenFromMr(s->FrMr[i]); /* once */
  }
  *Out = s;
  return STATUS_SUCCESS;
fail:
  printf("socket open failed: 0x%08X\n", (unsigned)status);
  *Out = s; /* NdksSocketClose releases what was built */
  return status;
}

typedef struct _NDKS_MR_CLOSE {
  NDKS_SYNC Sync;
  NDKS_PD_CONTEXT *Pd;
} NDKS_MR_CLOSE;

static VOID NdksMrClosed(_In_opt_ PVOID Context) {
  NDKS_MR_CLOSE *c = (NDKS_MR_CLOSE *)Context;
  InterlockedDecrement(&c->Pd->MrCount); /* the MR's context goes with its close */
  NdksCloseDone(&c->Sync);
}

/* Closes an MR; its share of the PD context is released when the close has completed. */
_IRQL_requires_(PASSIVE_LEVEL)
static VOID NdksCloseMr(_In_ NDK_MR *Mr, _In_ NDKS_PD_CONTEXT *Pd) {
  NDKS_MR_CLOSE c;
  NTSTATUS status;
  NdksSyncInit(&c.Sync);
  c.Pd = Pd;
  status = Mr->Dispatch->NdkCloseMr(&Mr->Header, NdksMrClosed, &c);
  if (status == STATUS_SUCCESS) {
    InterlockedDecrement(&Pd->MrCount); /* closed inline: no callback */
  } else {
    NDKS_CHECK(NdksWait(&c.Sync, status) == STATUS_SUCCESS, "NdkCloseMr never completed");
  }
}

static NTSTATUS NdksCloseObject(_In_ NDK_OBJECT_HEADER *Object) {
  NDKS_SYNC sync;
  NDK_FN_CLOSE_OBJECT close = *(const NDK_FN_CLOSE_OBJECT *)(((NDK_CQ *)Object)->Dispatch);
  NdksSyncInit(&sync);
  return NdksWait(&sync, close(Object, NdksCloseDone, &sync));
}

_IRQL_requires_(PASSIVE_LEVEL)
static VOID NdksSocketClose(_In_opt_ NDKS_SOCKET *S) {
  NDKS_PD_CONTEXT *pdContext;
  NTSTATUS status;
  if (S == NULL) return;
  ExWaitForRundownProtectionRelease(&S->Rundown);
  if (S->Connector != NULL) NdksCloseObject(&S->Connector->Header);
  if (S->Qp != NULL) NdksCloseObject(&S->Qp->Header);
  pdContext = S->PdContext;
  /* The PD first: its close pends while MRs are open and completes after the last MR close. */
  if (S->Pd != NULL && pdContext != NULL) {
    status = S->Pd->Dispatch->NdkClosePd(&S->Pd->Header, NdksPdClosed, pdContext);
    NDKS_CHECK(status == STATUS_PENDING || pdContext->MrCount == 0, "NdkClosePd 0x%08X with MRs open",
               (unsigned)status);
    if (status == STATUS_SUCCESS) KeSetEvent(&pdContext->Closed, IO_NO_INCREMENT, FALSE);
  }
  for (ULONG i = 0; i < NDKS_FR_MR_COUNT; ++i) {
    if (S->FrMr[i] != NULL) NdksCloseMr(S->FrMr[i], pdContext);
  }
  if (S->CtrlMr != NULL) NdksCloseMr(S->CtrlMr, pdContext);
  if (S->Pd != NULL && pdContext != NULL) {
    LARGE_INTEGER timeout;
    timeout.QuadPart = NDKS_WAIT_100NS;
    NDKS_CHECK(KeWaitForSingleObject(&pdContext->Closed, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS,
               "PD close never completed");
  }
  if (pdContext != NULL) ExFreePoolWithTag(pdContext, NDKS_TAG);
  if (S->Lam != NULL) {
    S->Adapter->Dispatch->NdkReleaseLAM(S->Adapter, S->Lam);
    ExFreePoolWithTag(S->Lam, NDKS_TAG);
  }
  if (S->Cq != NULL) NdksCloseObject(&S->Cq->Header);
  if (S->DataMdl != NULL) IoFreeMdl(S->DataMdl);
  if (S->CtrlMdl != NULL) IoFreeMdl(S->CtrlMdl);
  if (S->Data != NULL) ExFreePoolWithTag(S->Data, NDKS_TAG);
  if (S->Ctrl != NULL) ExFreePoolWithTag(S->Ctrl, NDKS_TAG);
  if (S->Adapter != NULL) g_NdkDispatch.WskCloseNdkAdapter(g_WskProvider.Client, S->Adapter);
  ExFreePoolWithTag(S, NDKS_TAG);
}

static NDK_SGE NdksCtrlSge(_In_ NDKS_SOCKET *S, _In_ ULONG Offset, _In_ ULONG Length) {
  NDK_SGE sge;
  sge.VirtualAddress = S->Ctrl + Offset;
  sge.Length = Length;
  sge.MemoryRegionToken = S->CtrlMr->Dispatch->NdkGetLocalTokenFromMr(S->CtrlMr);
  return sge;
}

/* ---- Listener: connect event → work item → NdkAccept with a new socket's QP ------------------ */

typedef struct _NDKS_PENDING_CONNECTOR {
  SINGLE_LIST_ENTRY Link;
  NDK_CONNECTOR *Connector;
} NDKS_PENDING_CONNECTOR;

typedef struct _NDKS_LISTENER {
  NDK_ADAPTER *Adapter;
  NDK_LISTENER *Listener;
  NET_IFINDEX IfIndex;
  SOCKADDR_IN Address;
  KSPIN_LOCK Lock;
  SINGLE_LIST_ENTRY Pending; /* guarded by Lock */
  PIO_WORKITEM WorkItem;
  volatile LONG WorkQueued;
  KEVENT Accepted;
  NDKS_SOCKET *AcceptedSocket;
  NTSTATUS AcceptStatus;
} NDKS_LISTENER;

static IO_WORKITEM_ROUTINE_EX NdksAcceptWorker;

/* NdkAccept completes once the peer has completed its connect: asynchronously, not waited for
 * in the work item. */
static VOID NdksAcceptDone(_In_opt_ PVOID Context, _In_ NTSTATUS Status) {
  NDKS_LISTENER *l = (NDKS_LISTENER *)Context;
  l->AcceptStatus = Status;
  KeSetEvent(&l->Accepted, IO_NO_INCREMENT, FALSE);
}

static VOID NdksConnectEvent(_In_opt_ PVOID Context, _In_ NDK_CONNECTOR *Connector) {
  NDKS_LISTENER *l = (NDKS_LISTENER *)Context;
  KLOCK_QUEUE_HANDLE lockHandle;
  NDKS_PENDING_CONNECTOR *p = (NDKS_PENDING_CONNECTOR *)ExAllocatePool2(POOL_FLAG_NON_PAGED,
                                                                         sizeof(NDKS_PENDING_CONNECTOR), NDKS_TAG);
  if (p == NULL) {
    Connector->Dispatch->NdkCloseConnector(&Connector->Header, NULL, NULL);
    return;
  }
  p->Connector = Connector;
  KeAcquireInStackQueuedSpinLock(&l->Lock, &lockHandle);
  PushEntryList(&l->Pending, &p->Link);
  KeReleaseInStackQueuedSpinLock(&lockHandle);
  /* Accepting creates objects and waits: not in this callback, in a work item. */
  if (InterlockedCompareExchange(&l->WorkQueued, 1, 0) == 0)
    IoQueueWorkItemEx(l->WorkItem, NdksAcceptWorker, DelayedWorkQueue, l);
}

static VOID NdksAcceptWorker(_In_ PVOID IoObject, _In_opt_ PVOID Context, _In_ PIO_WORKITEM WorkItem) {
  NDKS_LISTENER *l = (NDKS_LISTENER *)Context;
  UNREFERENCED_PARAMETER(IoObject);
  UNREFERENCED_PARAMETER(WorkItem);
  NT_ASSERT(KeGetCurrentIrql() == PASSIVE_LEVEL);
  InterlockedExchange(&l->WorkQueued, 0);
  for (;;) {
    KLOCK_QUEUE_HANDLE lockHandle;
    PSINGLE_LIST_ENTRY entry;
    NDKS_PENDING_CONNECTOR *p;
    NDKS_SOCKET *socket = NULL;
    NTSTATUS status;
    KeAcquireInStackQueuedSpinLock(&l->Lock, &lockHandle);
    entry = PopEntryList(&l->Pending);
    KeReleaseInStackQueuedSpinLock(&lockHandle);
    if (entry == NULL) break;
    p = CONTAINING_RECORD(entry, NDKS_PENDING_CONNECTOR, Link);
    /* A new socket: its own adapter instance, so its QP is not the listener's instance's. */
    status = NdksSocketOpen(l->IfIndex, &socket);
    l->AcceptedSocket = socket;
    if (NT_SUCCESS(status)) {
      socket->Connector = p->Connector;
      status = p->Connector->Dispatch->NdkAccept(p->Connector, socket->Qp, 4, 4, NULL, 0, NdksDisconnectEvent,
                                                 socket, NdksAcceptDone, l);
    } else {
      p->Connector->Dispatch->NdkCloseConnector(&p->Connector->Header, NULL, NULL);
    }
    ExFreePoolWithTag(p, NDKS_TAG);
    if (status != STATUS_PENDING) NdksAcceptDone(l, status);
  }
}

_IRQL_requires_(PASSIVE_LEVEL)
static NTSTATUS NdksListen(_Inout_ NDKS_LISTENER *L, _In_ NET_IFINDEX IfIndex) {
  NDKS_SYNC sync;
  NTSTATUS status;
  NDK_VERSION version = {2, 0};
  USHORT port = 0;
  ULONG length = sizeof(L->Address);
  PAGED_CODE();
  RtlZeroMemory(L, sizeof(*L));
  L->IfIndex = IfIndex;
  KeInitializeSpinLock(&L->Lock);
  KeInitializeEvent(&L->Accepted, SynchronizationEvent, FALSE);
  L->WorkItem = IoAllocateWorkItem(&g_DeviceObject);
  if (L->WorkItem == NULL) return STATUS_INSUFFICIENT_RESOURCES;
  status = g_NdkDispatch.WskOpenNdkAdapter(g_WskProvider.Client, version, IfIndex, &L->Adapter);
  if (!NT_SUCCESS(status)) return status;
  NdksSyncInit(&sync);
  status = NdksWait(&sync, L->Adapter->Dispatch->NdkCreateListener(L->Adapter, NdksConnectEvent, L, NdksCreateDone,
                                                                    &sync, &L->Listener));
  if (!NT_SUCCESS(status)) return status;
  if (sync.Object != NULL) L->Listener = (NDK_LISTENER *)sync.Object;
  L->Address.sin_family = AF_INET;
  status = RtlIpv4StringToAddressExW(L"127.0.0.1:0", TRUE, &L->Address.sin_addr, &port);
  if (!NT_SUCCESS(status)) return status;
  L->Address.sin_port = port;
  NdksSyncInit(&sync);
  status = NdksWait(&sync, L->Listener->Dispatch->NdkListen(L->Listener, (PSOCKADDR)&L->Address, sizeof(L->Address),
                                                             NdksRequestDone, &sync));
  if (!NT_SUCCESS(status)) return status;
  return L->Listener->Dispatch->NdkGetLocalAddress(L->Listener, (PSOCKADDR)&L->Address, &length);
}

static VOID NdksListenerClose(_Inout_ NDKS_LISTENER *L) {
  if (L->Listener != NULL) NdksCloseObject(&L->Listener->Header);
  if (L->Adapter != NULL) g_NdkDispatch.WskCloseNdkAdapter(g_WskProvider.Client, L->Adapter);
  if (L->WorkItem != NULL) IoFreeWorkItem(L->WorkItem);
}

/* ---- The exchange --------------------------------------------------------------------------- */

/* Passive side: fast-register FR MR `Index` over the data pages (deferred) and tell the peer. The
 * advertisement carries the token only in round 1: the peer reuses the one it read then. */
_IRQL_requires_(PASSIVE_LEVEL)
static NTSTATUS NdksAdvertise(_In_ NDKS_SOCKET *S, _In_ ULONG Index, _In_ UINT32 Round) {
  NDKS_ADVERT *advert = (NDKS_ADVERT *)S->Ctrl;
  NDK_SGE sge;
  NTSTATUS status;
  status = S->Qp->Dispatch->NdkFastRegister(S->Qp, (PVOID)(ULONG_PTR)0xF1, S->FrMr[Index], NDKS_DATA_PAGES,
                                            S->Lam->AdapterPageArray, 0, NDKS_DATA_BYTES, S->Data,
                                            NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_ALLOW_REMOTE_READ |
                                                NDK_OP_FLAG_DEFER);
  if (!NT_SUCCESS(status)) return status;
  advert->Address = (UINT64)(ULONG_PTR)S->Data;
  advert->Token = Round == 1 ? S->FrToken[Index] : 0;
  advert->Length = NDKS_DATA_BYTES;
  advert->Round = Round;
  sge = NdksCtrlSge(S, 0, sizeof(*advert));
  return S->Qp->Dispatch->NdkSend(S->Qp, (PVOID)(ULONG_PTR)0x5E, &sge, 1, 0); /* ends the deferred chain */
}

static NTSTATUS NdksPostReceive(_In_ NDKS_SOCKET *S, _In_ ULONG Offset) {
  NDK_SGE sge = NdksCtrlSge(S, Offset, 64);
  return S->Qp->Dispatch->NdkReceive(S->Qp, (PVOID)(ULONG_PTR)(0x100 + Offset), &sge, 1);
}

static VOID NdksFill(_Out_writes_bytes_(Length) PUCHAR Buffer, _In_ ULONG Length, _In_ UINT32 Seed) {
  for (ULONG i = 0; i < Length; ++i) Buffer[i] = (UCHAR)(Seed * 131 + i * 7 + (i >> 8));
}

/* Active side: Write the pattern into the peer's FR MR (deferred), Read it back, verify. */
_IRQL_requires_(PASSIVE_LEVEL)
static VOID NdksWriteReadVerify(_In_ NDKS_SOCKET *C, _In_ UINT64 Address, _In_ UINT32 Token, _In_ UINT32 Seed) {
  NDK_SGE sge;
  NDK_RESULT_EX r;
  NTSTATUS status;
  const ULONG half = NDKS_DATA_BYTES / 2;
  NdksFill(C->Data, half, Seed);
  RtlZeroMemory(C->Data + half, half);
  sge.VirtualAddress = C->Data;
  sge.Length = half;
  sge.MemoryRegionToken = C->FrMr[0]->Dispatch->NdkGetLocalTokenFromMr(C->FrMr[0]);
  status = C->Qp->Dispatch->NdkWrite(C->Qp, (PVOID)(ULONG_PTR)0x1, &sge, 1, Address, Token, NDK_OP_FLAG_DEFER);
  NDKS_CHECK(status == STATUS_SUCCESS, "NdkWrite 0x%08X", (unsigned)status);
  sge.VirtualAddress = C->Data + half;
  status = C->Qp->Dispatch->NdkRead(C->Qp, (PVOID)(ULONG_PTR)0x2, &sge, 1, Address, Token, 0);
  NDKS_CHECK(status == STATUS_SUCCESS, "NdkRead 0x%08X", (unsigned)status);
  for (int i = 0; i < 2; ++i) {
    status = NdksReap(C, &r);
    NDKS_CHECK(status == STATUS_SUCCESS && r.Status == STATUS_SUCCESS, "write/read completion 0x%08X 0x%08X",
               (unsigned)status, (unsigned)r.Status);
  }
  NDKS_CHECK(RtlCompareMemory(C->Data, C->Data + half, half) == half, "round %u: read back differs", Seed);
}

int main(void) {
  NET_LUID luid;
  NET_IFINDEX ifIndex = 0;
  WCHAR alias[IF_MAX_STRING_SIZE + 1];
  NDKS_LISTENER listener;
  NDKS_SOCKET *client = NULL, *server = NULL;
  NDKS_SYNC sync;
  NDK_RESULT_EX r;
  NTSTATUS status;
  ULONG lamSize, fbo = 0;
  SOCKADDR_IN source;
  USHORT port = 0;
  NDKS_ADVERT advert;
  UINT32 peerToken = 0;
  LARGE_INTEGER timeout;

  g_DeviceObject.Size = sizeof(g_DeviceObject);
  status = NdksWskStart();
  NDKS_CHECK(status == STATUS_SUCCESS, "WSK start 0x%08X", (unsigned)status);
  if (!NT_SUCCESS(status)) return 1;
  status = ConvertInterfaceAliasToLuid(L"lo", &luid);
  if (NT_SUCCESS(status)) status = ConvertInterfaceLuidToIndex(&luid, &ifIndex);
  if (NT_SUCCESS(status)) status = ConvertInterfaceLuidToAlias(&luid, alias, RTL_NUMBER_OF(alias));
  NDKS_CHECK(NT_SUCCESS(status) && ifIndex != 0, "interface lookup 0x%08X", (unsigned)status);

  /* Listener (instance A), client socket (instance C), accepted socket (instance B). */
  status = NdksListen(&listener, ifIndex);
  NDKS_CHECK(status == STATUS_SUCCESS, "listen 0x%08X", (unsigned)status);
  status = NdksSocketOpen(ifIndex, &client);
  NDKS_CHECK(status == STATUS_SUCCESS, "client socket 0x%08X", (unsigned)status);
  if (g_Failures) goto out;
  NdksSyncInit(&sync);
  status = NdksWait(&sync, client->Adapter->Dispatch->NdkCreateConnector(client->Adapter, NdksCreateDone, &sync,
                                                                          &client->Connector));
  if (sync.Object != NULL) client->Connector = (NDK_CONNECTOR *)sync.Object;
  NDKS_CHECK(status == STATUS_SUCCESS, "NdkCreateConnector 0x%08X", (unsigned)status);
  RtlZeroMemory(&source, sizeof(source));
  source.sin_family = AF_INET;
  NT_VERIFY(NT_SUCCESS(RtlIpv4StringToAddressExA("127.0.0.1", TRUE, &source.sin_addr, &port)));
  NdksPostReceive(client, 128);
  NdksSyncInit(&sync);
  status = NdksWait(&sync, client->Connector->Dispatch->NdkConnect(
                               client->Connector, client->Qp, (PSOCKADDR)&source, sizeof(source),
                               (PSOCKADDR)&listener.Address, sizeof(listener.Address), 4, 4, NULL, 0,
                               NdksRequestDone, &sync));
  NDKS_CHECK(status == STATUS_SUCCESS, "NdkConnect 0x%08X", (unsigned)status);
  NdksSyncInit(&sync);
  status = NdksWait(&sync, client->Connector->Dispatch->NdkCompleteConnect(client->Connector, NdksDisconnectEvent,
                                                                            client, NdksRequestDone, &sync));
  NDKS_CHECK(status == STATUS_SUCCESS, "NdkCompleteConnect 0x%08X", (unsigned)status);
  timeout.QuadPart = NDKS_WAIT_100NS;
  NDKS_CHECK(KeWaitForSingleObject(&listener.Accepted, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS,
             "no accept");
  server = listener.AcceptedSocket;
  NDKS_CHECK(listener.AcceptStatus == STATUS_SUCCESS && server != NULL, "NdkAccept with another instance's QP 0x%08X",
             (unsigned)listener.AcceptStatus);
  if (g_Failures) goto out;
  NDKS_CHECK(server->Adapter != listener.Adapter, "the accepted socket has its own adapter instance");

  /* The client's FR MR 0 covers its own data pages for local access (SGE token). */
  lamSize = FIELD_OFFSET(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray) + NDKS_DATA_PAGES * sizeof(NDK_LOGICAL_ADDRESS);
  for (int side = 0; side < 2; ++side) {
    NDKS_SOCKET *s = side == 0 ? server : client;
    ULONG size = lamSize;
    s->Lam = (NDK_LOGICAL_ADDRESS_MAPPING *)ExAllocatePoolWithTag(NonPagedPoolNx, lamSize, NDKS_TAG);
    NdksSyncInit(&sync);
    status = NdksWait(&sync, s->Adapter->Dispatch->NdkBuildLAM(s->Adapter, s->DataMdl, NDKS_DATA_BYTES,
                                                                NdksRequestDone, &sync, s->Lam, &size, &fbo));
    NDKS_CHECK(status == STATUS_SUCCESS && fbo == 0, "NdkBuildLAM 0x%08X fbo %u", (unsigned)status, fbo);
  }
  status = client->Qp->Dispatch->NdkFastRegister(client->Qp, (PVOID)(ULONG_PTR)0xF0, client->FrMr[0],
                                                 NDKS_DATA_PAGES, client->Lam->AdapterPageArray, 0, NDKS_DATA_BYTES,
                                                 client->Data, NDK_OP_FLAG_ALLOW_LOCAL_WRITE);
  NDKS_CHECK(status == STATUS_SUCCESS, "client NdkFastRegister 0x%08X", (unsigned)status);
  status = NdksReap(client, &r);
  NDKS_CHECK(status == STATUS_SUCCESS && r.Type == NdkOperationTypeFastRegister && r.Status == STATUS_SUCCESS,
             "client fast register completion");

  /* Round 1: the server registers FR MR 3, advertises address and token; the client writes,
   * reads back, then tells the server with SendAndInvalidate, which invalidates the MR. */
  for (UINT32 round = 1; round <= 3 && !g_Failures; ++round) {
    NdksPostReceive(server, 64);
    status = NdksAdvertise(server, 3, round);
    NDKS_CHECK(status == STATUS_SUCCESS, "advertise 0x%08X", (unsigned)status);
    for (int i = 0; i < 2; ++i) { /* fast register + send */
      status = NdksReap(server, &r);
      NDKS_CHECK(status == STATUS_SUCCESS && r.Status == STATUS_SUCCESS, "server completion %d: 0x%08X", i,
                 (unsigned)r.Status);
    }
    status = NdksReap(client, &r); /* the advertisement */
    NDKS_CHECK(status == STATUS_SUCCESS && r.Type == NdkOperationTypeReceive &&
                   r.BytesTransferred == sizeof(NDKS_ADVERT),
               "advertisement 0x%08X", (unsigned)r.Status);
    RtlCopyMemory(&advert, client->Ctrl + 128, sizeof(advert));
    NDKS_CHECK(advert.Round == round, "round %u", advert.Round);
    if (round == 1) {
      peerToken = advert.Token; /* the peer's token, read once and remembered */
    } else {
      NDKS_CHECK(advert.Token == 0, "token sent again");
    }
    NdksPostReceive(client, 128);
    NdksWriteReadVerify(client, advert.Address, peerToken, round);
    NDKS_CHECK(RtlCompareMemory(server->Data, client->Data, NDKS_DATA_BYTES / 2) == NDKS_DATA_BYTES / 2,
               "round %u: the server's pages do not hold what was written", round);
    {
      NDK_SGE sge = NdksCtrlSge(client, 0, 8);
      RtlCopyMemory(client->Ctrl, "done", 5);
      status = client->Qp->Dispatch->NdkSendAndInvalidate(client->Qp, (PVOID)(ULONG_PTR)0x3, &sge, 1, 0,
                                                          peerToken);
      NDKS_CHECK(status == STATUS_SUCCESS, "NdkSendAndInvalidate 0x%08X", (unsigned)status);
    }
    status = NdksReap(client, &r);
    NDKS_CHECK(status == STATUS_SUCCESS && r.Status == STATUS_SUCCESS, "send and invalidate completion");
    status = NdksReap(server, &r);
    NDKS_CHECK(status == STATUS_SUCCESS && r.Type == NdkOperationTypeReceiveAndInvalidate &&
                   (UINT32)r.TypeSpecificCompletionOutput == server->FrToken[3],
               "receive and invalidate: type %d token 0x%08X", (int)r.Type, (unsigned)r.TypeSpecificCompletionOutput);
  }

  /* Disconnect, flush, close: one receive is still posted on each side. */
  NdksPostReceive(server, 64);
  NdksSyncInit(&sync);
  status = NdksWait(&sync, client->Connector->Dispatch->NdkDisconnect(client->Connector, NdksRequestDone, &sync));
  NDKS_CHECK(status == STATUS_SUCCESS, "NdkDisconnect 0x%08X", (unsigned)status);
  timeout.QuadPart = NDKS_WAIT_100NS;
  NDKS_CHECK(KeWaitForSingleObject(&server->Disconnected, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS,
             "the server saw no disconnect");
  client->Qp->Dispatch->NdkFlush(client->Qp);
  server->Qp->Dispatch->NdkFlush(server->Qp);
  for (int i = 0; i < 2; ++i) { /* the receives still posted complete as cancelled */
    NDKS_SOCKET *s = i == 0 ? client : server;
    status = NdksReap(s, &r);
    NDKS_CHECK(status == STATUS_SUCCESS && r.Type == NdkOperationTypeReceive && !NT_SUCCESS(r.Status),
               "flushed receive 0x%08X", (unsigned)r.Status);
  }
out:
  NdksSocketClose(server);
  NdksSocketClose(client);
  NdksListenerClose(&listener);
  NdksWskStop();
  NDKS_CHECK(OpenNdkKcompatPoolErrors() == 0, "pool errors");
  printf("%s: %d failure(s)\n", g_Failures ? "FAIL" : "PASS", g_Failures);
  return g_Failures ? 1 : 0;
}
