/*
 * ndk_example.h - what ndk-example-server and ndk-example-client share.
 *
 * Both programs are written the way a Windows kernel NDK consumer (SMB Direct, a storage
 * target, ...) is written: every provider call goes through the dispatch table of an NDK
 * object, every call that may pend (STATUS_PENDING) is finished by its completion callback,
 * work requests complete into completion queues that are read with NdkGetCqResultsEx after
 * arming them with NdkArmCq. The only header is <ndk/ndk.h> (plus libc); the only library is
 * libopenndk.so. See docs/examples.md.
 *
 * What is here:
 *   - the small wire protocol both programs speak (ex_msg) on top of NDK Sends;
 *   - a reproducible random byte pattern (ex_fill / ex_check) so both sides can verify data
 *     without shipping it twice;
 *   - "wait for the callback" helpers (ex_op), because the programs are sequential;
 *   - a completion-queue wrapper (ex_cq) that waits for the next completion with a deadline;
 *   - opening the NDK adapter that owns a given IP address (ex_open_adapter).
 *
 * Everything waits with a deadline (EX_TIMEOUT_S): an example that hangs helps nobody.
 */
#ifndef NDK_EXAMPLE_H
#define NDK_EXAMPLE_H

/* POSIX and BSD interfaces of libc (clock_gettime, getifaddrs) beside strict C11. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <ndk/ndk.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Generous: on loopback everything below completes in milliseconds. */
#define EX_TIMEOUT_S 30

/* Largest payload of one step (the biggest size of the size matrix). */
#define EX_MAX_PAYLOAD (4u * 1024u * 1024u)

/* Layout of the one buffer each side registers as its MR (`mem`):                              */
#define EX_OFF_TXMSG 0u                                  /* the ex_msg we send                  */
#define EX_OFF_RXMSG 64u                                 /* the ex_msg we receive               */
#define EX_OFF_RXDATA ((size_t)PAGE_SIZE)                /* payload of a received EX_DATA       */
#define EX_OFF_TXDATA (EX_OFF_RXDATA + EX_MAX_PAYLOAD)   /* payload of a sent EX_DATA           */
#define EX_OFF_RDMA (EX_OFF_TXDATA + EX_MAX_PAYLOAD)     /* RDMA Write/Read target (server),    */
#define EX_RDMA_SIZE (EX_MAX_PAYLOAD + PAGE_SIZE)        /* source and sink (client)            */
#define EX_MEM_SIZE (EX_OFF_RDMA + EX_RDMA_SIZE)

/* ---- The wire protocol -----------------------------------------------------------------------
 *
 * Every message is one NDK Send whose first bytes are an ex_msg; EX_DATA messages carry a payload
 * right behind it. Both programs run on the same kind of host, so the struct is sent as is (a
 * real protocol would fix the byte order). The client drives; the server answers every message
 * with exactly one message (EX_ACK, or EX_DATA for EX_DATA). */
enum ex_msg_op {
  EX_HELLO = 1,  /* server -> client: addr/token/length of the server's RDMA area          */
  EX_DATA,       /* payload of `length` bytes follows, pattern `seed` (both directions)      */
  EX_ACK,        /* status 0 = verified / done; addr/token/length when something is granted  */
  EX_WROTE,      /* client wrote `length` bytes, pattern `seed`, at RDMA area + `offset`      */
  EX_READ_PREP,  /* server: put `length` bytes, pattern `seed`, at RDMA area + `offset`       */
  EX_FR_REQ,     /* server: fast-register `length` bytes of its FRMR buffer, remote write     */
  EX_FR_WROTE,   /* client wrote `length` bytes, pattern `seed`, into the fast registration   */
  EX_MW_REQ,     /* server: pattern `seed` at RDMA area + `offset`, bind a window (remote read) */
  EX_INVALIDATE, /* sent with NdkSendAndInvalidate; `token` is the token being invalidated   */
  EX_BYE         /* client is done; server acknowledges, then the client disconnects          */
};

typedef struct ex_msg {
  uint32_t op;     /* enum ex_msg_op */
  uint32_t status; /* EX_ACK / EX_DATA replies: 0 = ok, anything else = what failed           */
  uint64_t addr;   /* a remote address (RemoteAddress of NdkWrite/NdkRead)                    */
  uint64_t seed;   /* pattern seed                                                            */
  uint64_t offset; /* offset inside the RDMA area                                             */
  uint32_t token;  /* a remote token (RemoteToken of NdkWrite/NdkRead/NdkSendAndInvalidate)   */
  uint32_t length; /* payload / region length                                                 */
} ex_msg;

/* ---- A reproducible random pattern -----------------------------------------------------------
 * xorshift64*: byte i of pattern `seed` is the same on both sides, so the receiver verifies by
 * regenerating. */
static inline uint64_t ex_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}
static inline void ex_fill(void *buf, size_t len, uint64_t seed) {
  uint64_t s = seed | 1; /* never 0: xorshift would stay 0 */
  unsigned char *p = (unsigned char *)buf;
  for (size_t i = 0; i < len; ++i) p[i] = (unsigned char)(ex_next(&s) >> 56);
}
/* Returns 0 when buf holds pattern `seed`, else 1 (and reports the first wrong byte). */
static inline int ex_check(const void *buf, size_t len, uint64_t seed, const char *what) {
  uint64_t s = seed | 1;
  const unsigned char *p = (const unsigned char *)buf;
  for (size_t i = 0; i < len; ++i) {
    unsigned char want = (unsigned char)(ex_next(&s) >> 56);
    if (p[i] != want) {
      fprintf(stderr, "%s: byte %zu of %zu is 0x%02x, expected 0x%02x\n", what, i, len, p[i], want);
      return 1;
    }
  }
  return 0;
}
static inline uint64_t ex_random_seed(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
  return ex_next(&s);
}

/* ---- Waiting for a callback ------------------------------------------------------------------
 * Creates, registrations, connects, accepts, disconnects and closes may return STATUS_PENDING;
 * the provider then calls the completion callback exactly once, with the final status (and, for
 * creates, the new object). A call that does not pend never calls the callback. */
typedef struct ex_op {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  NTSTATUS status;
  NDK_OBJECT_HEADER *object;
} ex_op;

static inline void ex_op_init(ex_op *op) {
  pthread_mutex_init(&op->mu, NULL);
  pthread_cond_init(&op->cv, NULL);
  op->done = 0;
  op->status = STATUS_PENDING;
  op->object = NULL;
}
static inline void ex_op_destroy(ex_op *op) {
  pthread_cond_destroy(&op->cv);
  pthread_mutex_destroy(&op->mu);
}
static inline void ex_op_signal(ex_op *op, NTSTATUS status, NDK_OBJECT_HEADER *object) {
  pthread_mutex_lock(&op->mu);
  op->status = status;
  op->object = object;
  op->done = 1;
  pthread_cond_broadcast(&op->cv); /* under the lock: the waiter may free op right after */
  pthread_mutex_unlock(&op->mu);
}
/* Waits until signalled or `seconds` passed; returns 1 when signalled, and then the status it was
 * signalled with in *status (if not NULL), read under the lock: a CQ notification armed earlier
 * may fire again at any time and write it. */
static inline int ex_op_wait_status(ex_op *op, int seconds, NTSTATUS *status) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += seconds;
  pthread_mutex_lock(&op->mu);
  int rc = 0;
  while (!op->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&op->cv, &op->mu, &deadline);
  int done = op->done;
  if (status) *status = op->status;
  pthread_mutex_unlock(&op->mu);
  return done;
}
static inline int ex_op_wait(ex_op *op, int seconds) { return ex_op_wait_status(op, seconds, NULL); }
static inline void ex_op_reset(ex_op *op) {
  pthread_mutex_lock(&op->mu);
  op->done = 0;
  op->status = STATUS_PENDING;
  op->object = NULL;
  pthread_mutex_unlock(&op->mu);
}

/* The callbacks: NDK_FN_CREATE_COMPLETION, NDK_FN_REQUEST_COMPLETION, NDK_FN_CLOSE_COMPLETION. */
static inline VOID ex_create_done(PVOID ctx, NTSTATUS status, NDK_OBJECT_HEADER *object) {
  ex_op_signal((ex_op *)ctx, status, object);
}
static inline VOID ex_request_done(PVOID ctx, NTSTATUS status) { ex_op_signal((ex_op *)ctx, status, NULL); }
static inline VOID ex_close_done(PVOID ctx) { ex_op_signal((ex_op *)ctx, STATUS_SUCCESS, NULL); }

/* Finishes a call made with `op` as its RequestContext: a pending call is waited for. */
static inline NTSTATUS ex_finish(ex_op *op, NTSTATUS inline_status) {
  if (inline_status != STATUS_PENDING) return inline_status;
  if (!ex_op_wait(op, EX_TIMEOUT_S)) return STATUS_IO_TIMEOUT;
  return op->status;
}
/* Same for a create: *out receives the object from the callback when the create pended (the
 * provider leaves the out pointer alone then). */
static inline NTSTATUS ex_finish_create(ex_op *op, NTSTATUS inline_status, void **out) {
  NTSTATUS st = ex_finish(op, inline_status);
  if (inline_status == STATUS_PENDING && NT_SUCCESS(st)) *out = op->object;
  return st;
}

/* Runs `call` (an expression using `op` as RequestContext) and finishes it. */
#define EX_CALL(op, call) (ex_op_reset(op), ex_finish((op), (call)))
/* Closes an NDK object through its dispatch table's close function and waits for the close. */
#define EX_CLOSE(op, obj, closefn) \
  ((obj) ? (ex_op_reset(op), ex_finish((op), (obj)->Dispatch->closefn(&(obj)->Header, ex_close_done, (op)))) \
         : STATUS_SUCCESS)

/* ---- A completion queue and its notification -------------------------------------------------
 * The consumer arms the CQ (NdkArmCq, one-shot), the provider calls the notification callback once
 * when a completion arrives, the consumer drains with NdkGetCqResultsEx and arms again. To never
 * miss a completion the wait reads the CQ again right after arming. */
typedef struct ex_cq {
  NDK_CQ *cq;
  ex_op notified;
  const char *name;
} ex_cq;

static inline VOID ex_cq_notify(PVOID ctx, NTSTATUS cq_status) {
  ex_cq *c = (ex_cq *)ctx;
  ex_op_signal(&c->notified, cq_status, NULL);
}

/* Waits for the next completion of `c` (at most EX_TIMEOUT_S). Returns 1 and fills *r, else 0. */
static inline int ex_cq_next(ex_cq *c, NDK_RESULT_EX *r) {
  for (;;) {
    if (c->cq->Dispatch->NdkGetCqResultsEx(c->cq, r, 1) == 1) return 1;
    ex_op_reset(&c->notified);
    c->cq->Dispatch->NdkArmCq(c->cq, NDK_CQ_NOTIFY_ANY);
    if (c->cq->Dispatch->NdkGetCqResultsEx(c->cq, r, 1) == 1) return 1;
    NTSTATUS cq_status;
    if (!ex_op_wait_status(&c->notified, EX_TIMEOUT_S, &cq_status)) {
      fprintf(stderr, "%s: no completion within %d s\n", c->name, EX_TIMEOUT_S);
      return 0;
    }
    if (!NT_SUCCESS(cq_status)) { /* CQ error: overrun or catastrophic failure (R43) */
      fprintf(stderr, "%s: CQ error 0x%08x\n", c->name, (unsigned)cq_status);
      return 0;
    }
  }
}

/* Waits for the next completion and checks it is request `ctx` of type `type` with
 * STATUS_SUCCESS. Returns 1 when it is. */
static inline int ex_expect(ex_cq *c, PVOID ctx, NDK_OPERATION_TYPE type, NDK_RESULT_EX *out) {
  NDK_RESULT_EX r;
  if (!ex_cq_next(c, &r)) return 0;
  if (out) *out = r;
  if (r.RequestContext != ctx || r.Type != type || r.Status != STATUS_SUCCESS) {
    fprintf(stderr, "%s: completion ctx %p type 0x%x status 0x%08x, expected ctx %p type 0x%x success\n", c->name,
            r.RequestContext, (unsigned)r.Type, (unsigned)r.Status, ctx, (unsigned)type);
    return 0;
  }
  return 1;
}

/* ---- Addresses and the adapter ---------------------------------------------------------------
 * On Windows the consumer finds the NDK adapter through the interface that owns its IP address;
 * here the interface index comes from getifaddrs + if_nametoindex. */
static inline int ex_parse_address(const char *text, unsigned port, SOCKADDR_INET *a) {
  memset(a, 0, sizeof(*a));
  if (inet_pton(AF_INET, text, &a->Ipv4.sin_addr) == 1) {
    a->Ipv4.sin_family = AF_INET;
    a->Ipv4.sin_port = htons((uint16_t)port);
    return 1;
  }
  if (inet_pton(AF_INET6, text, &a->Ipv6.sin6_addr) == 1) {
    a->Ipv6.sin6_family = AF_INET6;
    a->Ipv6.sin6_port = htons((uint16_t)port);
    return 1;
  }
  return 0;
}
static inline ULONG ex_address_length(const SOCKADDR_INET *a) {
  return a->si_family == AF_INET ? (ULONG)sizeof(SOCKADDR_IN) : (ULONG)sizeof(SOCKADDR_IN6);
}
static inline unsigned ex_port(const SOCKADDR_INET *a) {
  return ntohs(a->si_family == AF_INET ? a->Ipv4.sin_port : a->Ipv6.sin6_port);
}

/* The index of the interface holding address `a` (0 if none). */
static inline NET_IFINDEX ex_interface_of(const SOCKADDR_INET *a) {
  struct ifaddrs *list = NULL, *i;
  NET_IFINDEX found = 0;
  if (getifaddrs(&list) != 0) return 0;
  for (i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != a->si_family) continue;
    if (a->si_family == AF_INET) {
      const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)i->ifa_addr;
      if (s->sin_addr.s_addr == a->Ipv4.sin_addr.s_addr) found = if_nametoindex(i->ifa_name);
    } else {
      const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)i->ifa_addr;
      if (memcmp(&s->sin6_addr, &a->Ipv6.sin6_addr, sizeof(s->sin6_addr)) == 0) found = if_nametoindex(i->ifa_name);
    }
  }
  freeifaddrs(list);
  return found;
}

/* Opens the NDK adapter of the interface holding `a` (newest NDKPI version) and reads its
 * NDK_ADAPTER_INFO. Returns NULL (and says why) on failure. */
static inline NDK_ADAPTER *ex_open_adapter(const SOCKADDR_INET *a, NDK_ADAPTER_INFO *info, const char *who) {
  NET_IFINDEX ifx = ex_interface_of(a);
  NDK_ADAPTER *adapter = NULL;
  if (ifx == 0) {
    fprintf(stderr, "%s: no interface holds that address\n", who);
    return NULL;
  }
  NTSTATUS st = OpenNdkOpenAdapter(ifx, NULL, &adapter);
  if (!NT_SUCCESS(st)) {
    fprintf(stderr, "%s: OpenNdkOpenAdapter(ifindex %u) failed: 0x%08x\n", who, (unsigned)ifx, (unsigned)st);
    return NULL;
  }
  ULONG size = sizeof(*info);
  st = adapter->Dispatch->NdkQueryAdapterInfo(adapter, info, &size);
  if (!NT_SUCCESS(st)) {
    fprintf(stderr, "%s: NdkQueryAdapterInfo failed: 0x%08x\n", who, (unsigned)st);
    OpenNdkCloseAdapter(adapter);
    return NULL;
  }
  return adapter;
}

/* ---- Memory ----------------------------------------------------------------------------------
 * A page-aligned, zeroed buffer described by an MDL, as a kernel consumer would get from
 * nonpaged pool: IoAllocateMdl + MmBuildMdlForNonPagedPool. `skew` bytes at the front of the
 * first page are left out of the MDL (its byte offset) - used for the FRMR's first-byte offset. */
typedef struct ex_buffer {
  unsigned char *base; /* allocation */
  unsigned char *data; /* base + skew: what the MDL describes */
  size_t size;         /* bytes described */
  PMDL mdl;
} ex_buffer;

static inline int ex_buffer_alloc(ex_buffer *b, size_t size, size_t skew) {
  size_t total = ((size + skew + PAGE_SIZE - 1) / PAGE_SIZE) * PAGE_SIZE;
  b->base = (unsigned char *)aligned_alloc(PAGE_SIZE, total);
  if (!b->base) return 0;
  memset(b->base, 0, total);
  b->data = b->base + skew;
  b->size = size;
  b->mdl = IoAllocateMdl(b->data, (ULONG)size, FALSE, FALSE, NULL);
  if (!b->mdl) return 0;
  MmBuildMdlForNonPagedPool(b->mdl);
  return 1;
}
static inline void ex_buffer_free(ex_buffer *b) {
  if (b->mdl) IoFreeMdl(b->mdl);
  free(b->base);
  memset(b, 0, sizeof(*b));
}

/* An SGE over [p, p+len) of a region registered with local token `token`. */
static inline NDK_SGE ex_sge(void *p, ULONG len, UINT32 token) {
  NDK_SGE s;
  memset(&s, 0, sizeof(s));
  s.VirtualAddress = p;
  s.Length = len;
  s.MemoryRegionToken = token;
  return s;
}

/* Splits [p, p+len) into two SGEs at `cut` (clamped); returns how many SGEs are used (0, 1, 2). */
static inline ULONG ex_split(NDK_SGE *sg, unsigned char *p, ULONG len, ULONG cut, UINT32 token) {
  if (len == 0) return 0;
  if (cut == 0 || cut >= len) {
    sg[0] = ex_sge(p, len, token);
    return 1;
  }
  sg[0] = ex_sge(p, cut, token);
  sg[1] = ex_sge(p + cut, len - cut, token);
  return 2;
}

/* ---- What both sides build ------------------------------------------------------------------
 * The adapter, two CQs (receives complete into rcq, everything the side initiates into icq), a PD,
 * the buffer `mem` registered as one MR with every right the steps need, and a QP: 8 receives of
 * 2 SGEs, 8 initiator requests of 3 SGEs, no inline data. QPContext = the node. */
typedef struct ex_node {
  const char *who;
  NDK_ADAPTER *adapter;
  NDK_ADAPTER_INFO info;
  ex_cq rcq, icq;
  NDK_PD *pd;
  NDK_MR *mr;
  ex_buffer mem;
  UINT32 ltoken; /* local token of mr: goes into our SGEs */
  NDK_QP *qp;
  NDK_CONNECTOR *connector;
  ex_op op;           /* for the blocking calls */
  ex_op disconnected; /* the peer disconnected (disconnect event, R110) */
} ex_node;

/* NDK_FN_DISCONNECT_EVENT_CALLBACK. */
static inline VOID ex_on_disconnect(PVOID ctx) { ex_op_signal((ex_op *)ctx, STATUS_SUCCESS, NULL); }

static inline int ex_fail(const ex_node *n, const char *what, NTSTATUS st) {
  fprintf(stderr, "%s: %s failed: 0x%08x\n", n->who, what, (unsigned)st);
  return 0;
}

static inline void ex_node_init(ex_node *n, const char *who) {
  memset(n, 0, sizeof(*n));
  n->who = who;
  n->rcq.name = "receive CQ";
  n->icq.name = "initiator CQ";
  ex_op_init(&n->op);
  ex_op_init(&n->disconnected);
  ex_op_init(&n->rcq.notified);
  ex_op_init(&n->icq.notified);
}

static inline int ex_node_setup(ex_node *n, const SOCKADDR_INET *local) {
  NTSTATUS st;
  ex_op *op = &n->op;
  NDK_ADAPTER *a = n->adapter = ex_open_adapter(local, &n->info, n->who);
  if (!a) return 0;
  if (n->info.MaxInitiatorRequestSge < 3 || n->info.MaxReceiveRequestSge < 2 || n->info.MaxReadRequestSge < 2 ||
      n->info.MaxTransferLength < sizeof(ex_msg) + EX_MAX_PAYLOAD) {
    fprintf(stderr, "%s: adapter limits too small for this example\n", n->who);
    return 0;
  }
  ex_cq *cqs[2] = {&n->rcq, &n->icq};
  for (int i = 0; i < 2; ++i) {
    ex_op_reset(op);
    st = ex_finish_create(op, a->Dispatch->NdkCreateCq(a, 64, ex_cq_notify, cqs[i], NULL, ex_create_done, op,
                                                       &cqs[i]->cq),
                          (void **)&cqs[i]->cq);
    if (!NT_SUCCESS(st)) return ex_fail(n, "NdkCreateCq", st);
  }
  ex_op_reset(op);
  st = ex_finish_create(op, a->Dispatch->NdkCreatePd(a, ex_create_done, op, &n->pd), (void **)&n->pd);
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkCreatePd", st);
  if (!ex_buffer_alloc(&n->mem, EX_MEM_SIZE, 0)) return ex_fail(n, "allocation", STATUS_NO_MEMORY);
  ex_op_reset(op);
  st = ex_finish_create(op, n->pd->Dispatch->NdkCreateMr(n->pd, FALSE, ex_create_done, op, &n->mr), (void **)&n->mr);
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkCreateMr", st);
  st = EX_CALL(op, n->mr->Dispatch->NdkRegisterMr(
                       n->mr, n->mem.mdl, n->mem.size,
                       NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_RDMA_READ_SINK,
                       ex_request_done, op));
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkRegisterMr", st);
  n->ltoken = n->mr->Dispatch->NdkGetLocalTokenFromMr(n->mr);
  ex_op_reset(op);
  st = ex_finish_create(op, n->pd->Dispatch->NdkCreateQp(n->pd, n->rcq.cq, n->icq.cq, n, 8, 8, 2, 3, 0,
                                                         ex_create_done, op, &n->qp),
                        (void **)&n->qp);
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkCreateQp", st);
  return 1;
}

/* Closes the connector and the QP (first: they are successors of the rest, R24). */
static inline void ex_node_close_connection(ex_node *n) {
  EX_CLOSE(&n->op, n->connector, NdkCloseConnector);
  EX_CLOSE(&n->op, n->qp, NdkCloseQp);
  n->connector = NULL;
  n->qp = NULL;
}
/* Closes the rest and the adapter (OpenNdkCloseAdapter waits for every callback to have returned). */
static inline void ex_node_close(ex_node *n) {
  ex_node_close_connection(n);
  EX_CLOSE(&n->op, n->mr, NdkCloseMr);
  EX_CLOSE(&n->op, n->pd, NdkClosePd);
  EX_CLOSE(&n->op, n->icq.cq, NdkCloseCq);
  EX_CLOSE(&n->op, n->rcq.cq, NdkCloseCq);
  if (n->adapter) OpenNdkCloseAdapter(n->adapter);
  ex_buffer_free(&n->mem);
}

static inline ex_msg *ex_txmsg(ex_node *n) { return (ex_msg *)(void *)(n->mem.data + EX_OFF_TXMSG); }
static inline ex_msg *ex_rxmsg(ex_node *n) { return (ex_msg *)(void *)(n->mem.data + EX_OFF_RXMSG); }

#define EX_CTX(v) ((PVOID)(uintptr_t)(v))
enum { EX_CTX_RECV = 1, EX_CTX_SEND, EX_CTX_WRITE, EX_CTX_READ, EX_CTX_FASTREG, EX_CTX_BIND, EX_CTX_INVALIDATE };

/* Posts the receive for the next message: SGE 0 = the ex_msg, SGE 1 = the payload area. */
static inline int ex_post_receive(ex_node *n) {
  NDK_SGE sg[2] = {ex_sge(ex_rxmsg(n), sizeof(ex_msg), n->ltoken),
                   ex_sge(n->mem.data + EX_OFF_RXDATA, EX_MAX_PAYLOAD, n->ltoken)};
  NTSTATUS st = n->qp->Dispatch->NdkReceive(n->qp, EX_CTX(EX_CTX_RECV), sg, 2);
  return st == STATUS_SUCCESS ? 1 : ex_fail(n, "NdkReceive", st);
}

/* Waits for the next receive completion and copies the message out (the buffer is reused). */
static inline int ex_next_message(ex_node *n, NDK_RESULT_EX *rc, ex_msg *m) {
  if (!ex_cq_next(&n->rcq, rc)) return 0;
  if (rc->RequestContext != EX_CTX(EX_CTX_RECV) || rc->Status != STATUS_SUCCESS ||
      rc->BytesTransferred < sizeof(ex_msg)) {
    fprintf(stderr, "%s: receive completed with 0x%08x, %u bytes\n", n->who, (unsigned)rc->Status,
            (unsigned)rc->BytesTransferred);
    return 0;
  }
  *m = *ex_rxmsg(n);
  return 1;
}

/* Sends ex_txmsg + `payload` bytes of the tx payload area (split into two SGEs at a third) and
 * waits for the Send's completion. A non-zero `invalidate` sends with NdkSendAndInvalidate: the
 * peer's provider invalidates that token of the peer's when the message arrives (R52). */
static inline int ex_send(ex_node *n, ULONG payload, UINT32 invalidate) {
  NDK_SGE sg[3];
  NTSTATUS st;
  sg[0] = ex_sge(ex_txmsg(n), sizeof(ex_msg), n->ltoken);
  ULONG cnt = 1 + ex_split(sg + 1, n->mem.data + EX_OFF_TXDATA, payload, payload / 3, n->ltoken);
  if (invalidate) {
    st = n->qp->Dispatch->NdkSendAndInvalidate(n->qp, EX_CTX(EX_CTX_SEND), sg, cnt, 0, invalidate);
  } else {
    st = n->qp->Dispatch->NdkSend(n->qp, EX_CTX(EX_CTX_SEND), sg, cnt, 0);
  }
  if (st != STATUS_SUCCESS) return ex_fail(n, "NdkSend", st);
  /* The sender's completion of a send-and-invalidate is an ordinary Send (R57). */
  return ex_expect(&n->icq, EX_CTX(EX_CTX_SEND), NdkOperationTypeSend, NULL);
}

/* Fills ex_txmsg. */
static inline ex_msg *ex_compose(ex_node *n, uint32_t op, uint32_t status) {
  ex_msg *m = ex_txmsg(n);
  memset(m, 0, sizeof(*m));
  m->op = op;
  m->status = status;
  return m;
}

#endif /* NDK_EXAMPLE_H */
