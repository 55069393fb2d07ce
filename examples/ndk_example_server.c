/*
 * ndk-example-server - the passive side of the OpenNDK example (docs/examples.md).
 *
 *   ndk-example-server ADDRESS [PORT]
 *
 * Opens the NDK adapter of the interface holding ADDRESS, listens on ADDRESS:PORT (PORT 0 or
 * omitted: the provider picks one; the line "listening on ADDRESS port N" says which), accepts one
 * connection and answers the client's requests (see ndk_example.h for the protocol):
 *
 *   EX_DATA       verify the received payload, send a payload of its own back
 *   EX_WROTE      verify what the client wrote into the RDMA area with NdkWrite
 *   EX_READ_PREP  put a pattern into the RDMA area for the client's NdkRead
 *   EX_FR_REQ     fast-register (NdkFastRegister) part of the FRMR buffer with remote write access
 *   EX_FR_WROTE   verify what the client wrote through the fast registration
 *   EX_MW_REQ     bind a memory window (NdkBind) with remote read access over a pattern
 *   EX_INVALIDATE the client's NdkSendAndInvalidate: check the receive completion names the
 *                 invalidated token (NdkOperationTypeReceiveAndInvalidate) and that the token is
 *                 really gone (a local NdkInvalidate of it now fails, R56)
 *   EX_BYE        acknowledge; the client disconnects
 *
 * Exits 0 when the client said EX_BYE and every check passed, 1 otherwise.
 */
#include "ndk_example.h"

#define WHO "ndk-example-server"

/* The FRMR buffer starts 100 bytes into a page, so its fast registrations have FBO 100. */
#define FR_SKEW 100u
#define FR_SIZE (256u * 1024u)

typedef struct server {
  ex_node n;                        /* adapter, CQs, PD, `mem` MR, QP, connector (ndk_example.h) */
  NDK_MR *fmr;                      /* fast-register MR over `frbuf` */
  NDK_MW *mw;                       /* memory window bound into `mem` */
  NDK_LISTENER *listener;
  ex_buffer frbuf;
  NDK_LOGICAL_ADDRESS_MAPPING *lam; /* adapter pages of frbuf (NdkBuildLAM) */
  ULONG lam_fbo;
  int fr_valid;                     /* fmr holds a registration */
  ex_op incoming;                   /* connect event: object = the new connector */
} server;

static VOID ignore_close(PVOID ctx) { (void)ctx; }

/* NDK_FN_CONNECT_EVENT_CALLBACK: the provider made a connector for an incoming connect request.
 * We only record it; NdkAccept runs on the main thread. */
static VOID on_connect_event(PVOID ctx, NDK_CONNECTOR *connector) {
  ex_op *incoming = (ex_op *)ctx;
  pthread_mutex_lock(&incoming->mu);
  int first = !incoming->done;
  pthread_mutex_unlock(&incoming->mu);
  if (first) {
    ex_op_signal(incoming, STATUS_SUCCESS, &connector->Header);
  } else {
    /* Only one client: refuse (the peer sees STATUS_CONNECTION_REFUSED) and close. */
    connector->Dispatch->NdkReject(connector, NULL, 0);
    connector->Dispatch->NdkCloseConnector(&connector->Header, ignore_close, NULL);
  }
}

static int reply(server *s, uint32_t op, uint32_t status, uint64_t addr, uint32_t token, uint32_t length) {
  ex_msg *m = ex_compose(&s->n, op, status);
  m->addr = addr;
  m->token = token;
  m->length = length;
  return ex_send(&s->n, 0, 0);
}
static int ack(server *s, uint32_t status, uint64_t addr, uint32_t token, uint32_t length) {
  return reply(s, EX_ACK, status, addr, token, length);
}

/* Refuses a request (status 1) and ends the session. */
static int nack(server *s) {
  ack(s, 1, 0, 0, 0);
  return 0;
}

/* Invalidates `obj` locally and reports whether that failed, which proves the token was already
 * invalid (R56: a remotely invalidated token cannot be invalidated again). */
static int local_invalidate_fails(server *s, NDK_OBJECT_HEADER *obj) {
  NDK_RESULT_EX r;
  NDK_QP *qp = s->n.qp;
  NTSTATUS st = qp->Dispatch->NdkInvalidate(qp, EX_CTX(EX_CTX_INVALIDATE), obj, 0);
  if (!NT_SUCCESS(st)) return 1; /* refused inline: also "already invalid" */
  if (!ex_cq_next(&s->n.icq, &r)) return 0;
  return r.RequestContext == EX_CTX(EX_CTX_INVALIDATE) && r.Type == NdkOperationTypeInvalidate &&
         !NT_SUCCESS(r.Status);
}

/* Handles one received message (its receive completion is `rc`); returns 0 on failure, 1 to go
 * on, 2 after EX_BYE. The next receive is already posted. */
static int handle(server *s, const NDK_RESULT_EX *rc, const ex_msg *m) {
  ex_node *n = &s->n;
  NDK_QP *qp = n->qp;
  unsigned char *rdma = n->mem.data + EX_OFF_RDMA;
  switch (m->op) {
    case EX_DATA: { /* send/receive: verify, answer with our own pattern of the same length */
      uint32_t bad = rc->BytesTransferred != sizeof(ex_msg) + m->length || m->length > EX_MAX_PAYLOAD ||
                     ex_check(n->mem.data + EX_OFF_RXDATA, m->length, m->seed, WHO ": received payload");
      ex_msg *t = ex_compose(n, EX_DATA, bad);
      t->length = bad ? 0 : m->length;
      t->seed = m->seed ^ 0x5EEDu;
      ex_fill(n->mem.data + EX_OFF_TXDATA, t->length, t->seed);
      return ex_send(n, t->length, 0) && !bad;
    }
    case EX_WROTE: { /* RDMA Write: the data was placed before the Send announcing it arrived */
      uint32_t bad = m->offset + m->length > EX_RDMA_SIZE ||
                     ex_check(rdma + m->offset, m->length, m->seed, WHO ": RDMA Write target");
      return ack(s, bad, 0, 0, 0) && !bad;
    }
    case EX_READ_PREP: /* RDMA Read: the client reads what we put here */
      if (m->offset + m->length > EX_RDMA_SIZE) return nack(s);
      ex_fill(rdma + m->offset, m->length, m->seed);
      return ack(s, 0, 0, 0, 0);
    case EX_FR_REQ: { /* fast registration of frbuf's adapter pages, remote write granted */
      SIZE_T len = m->length;
      if (len == 0 || len > FR_SIZE || s->fr_valid) return nack(s);
      memset(s->frbuf.data, 0, s->frbuf.size);
      /* The registration's virtual base must be FBO + k * PAGE_SIZE (R130); k = 0 here. The peer
       * addresses it from that base with the token read after NdkFastRegister returned (R126). */
      PVOID base = (PVOID)(uintptr_t)s->lam_fbo;
      NTSTATUS st = qp->Dispatch->NdkFastRegister(qp, EX_CTX(EX_CTX_FASTREG), s->fmr, s->lam->AdapterPageCount,
                                                  s->lam->AdapterPageArray, s->lam_fbo, len, base,
                                                  NDK_OP_FLAG_ALLOW_REMOTE_WRITE);
      UINT32 token = s->fmr->Dispatch->NdkGetRemoteTokenFromMr(s->fmr);
      if (st != STATUS_SUCCESS) return ex_fail(n, "NdkFastRegister", st);
      /* Fast registration is a work request: it is in force once its completion arrived. */
      if (!ex_expect(&n->icq, EX_CTX(EX_CTX_FASTREG), NdkOperationTypeFastRegister, NULL)) return 0;
      s->fr_valid = 1;
      return ack(s, 0, (uint64_t)(uintptr_t)base, token, (uint32_t)len);
    }
    case EX_FR_WROTE: {
      uint32_t bad = m->length > FR_SIZE || ex_check(s->frbuf.data, m->length, m->seed, WHO ": FRMR target");
      return ack(s, bad, 0, 0, 0) && !bad;
    }
    case EX_MW_REQ: { /* memory window over a sub-range of mem, remote read only */
      if (m->length == 0 || m->offset + m->length > EX_RDMA_SIZE) return nack(s);
      ex_fill(rdma + m->offset, m->length, m->seed);
      NTSTATUS st = qp->Dispatch->NdkBind(qp, EX_CTX(EX_CTX_BIND), n->mr, s->mw, rdma + m->offset, m->length,
                                          NDK_OP_FLAG_ALLOW_REMOTE_READ);
      UINT32 token = s->mw->Dispatch->NdkGetRemoteTokenFromMw(s->mw);
      if (st != STATUS_SUCCESS) return ex_fail(n, "NdkBind", st);
      if (!ex_expect(&n->icq, EX_CTX(EX_CTX_BIND), NdkOperationTypeBind, NULL)) return 0;
      return ack(s, 0, (uint64_t)(uintptr_t)(rdma + m->offset), token, m->length);
    }
    case EX_INVALIDATE: { /* the client's NdkSendAndInvalidate (R52, R55, R56) */
      int is_fr = s->fr_valid && m->token == s->fmr->Dispatch->NdkGetRemoteTokenFromMr(s->fmr);
      NDK_OBJECT_HEADER *obj = is_fr ? &s->fmr->Header : &s->mw->Header;
      uint32_t bad = 0;
      if (rc->Type != NdkOperationTypeReceiveAndInvalidate || rc->TypeSpecificCompletionOutput != m->token) {
        fprintf(stderr, WHO ": receive type 0x%x token 0x%lx, expected ReceiveAndInvalidate of 0x%x\n",
                (unsigned)rc->Type, (unsigned long)rc->TypeSpecificCompletionOutput, (unsigned)m->token);
        bad = 1;
      } else if (!local_invalidate_fails(s, obj)) {
        fprintf(stderr, WHO ": token 0x%x still valid after the remote invalidate\n", (unsigned)m->token);
        bad = 2;
      }
      if (is_fr && !bad) s->fr_valid = 0; /* invalidated: may be fast-registered again (R131) */
      return ack(s, bad, 0, 0, 0) && !bad;
    }
    case EX_BYE:
      return ack(s, 0, 0, 0, 0) ? 2 : 0;
    default:
      fprintf(stderr, WHO ": unknown message %u\n", (unsigned)m->op);
      return 0;
  }
}

/* Creates what the server has beyond the common node: the FRMR, the window, the listener. */
static int setup(server *s, const SOCKADDR_INET *addr) {
  NTSTATUS st;
  ex_node *n = &s->n;
  ex_op *op = &n->op;
  if (!ex_node_setup(n, addr)) return 0;
  NDK_ADAPTER *a = n->adapter;
  NDK_PD *pd = n->pd;

  /* The FRMR: the adapter's page list of frbuf (NdkBuildLAM), an MR created for fast
   * registration and initialized for that many pages with remote access (R128). */
  if (!ex_buffer_alloc(&s->frbuf, FR_SIZE, FR_SKEW)) return ex_fail(n, "allocation", STATUS_NO_MEMORY);
  ULONG lam_size = OPENNDK_LAM_SIZE(FR_SIZE / PAGE_SIZE + 2);
  NDK_LOGICAL_ADDRESS_MAPPING *lam = (NDK_LOGICAL_ADDRESS_MAPPING *)calloc(1, lam_size);
  if (!lam) return ex_fail(n, "allocation", STATUS_NO_MEMORY);
  st = EX_CALL(op, a->Dispatch->NdkBuildLAM(a, s->frbuf.mdl, s->frbuf.size, ex_request_done, op, lam, &lam_size,
                                            &s->lam_fbo));
  if (!NT_SUCCESS(st)) {
    free(lam);
    return ex_fail(n, "NdkBuildLAM", st);
  }
  s->lam = lam;
  ex_op_reset(op);
  st = ex_finish_create(op, pd->Dispatch->NdkCreateMr(pd, TRUE, ex_create_done, op, &s->fmr), (void **)&s->fmr);
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkCreateMr(fast)", st);
  st = EX_CALL(op, s->fmr->Dispatch->NdkInitializeFastRegisterMr(s->fmr, lam->AdapterPageCount, TRUE,
                                                                 ex_request_done, op));
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkInitializeFastRegisterMr", st);
  ex_op_reset(op);
  st = ex_finish_create(op, pd->Dispatch->NdkCreateMw(pd, ex_create_done, op, &s->mw), (void **)&s->mw);
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkCreateMw", st);

  /* The listener: connect events arrive on on_connect_event. */
  ex_op_reset(op);
  st = ex_finish_create(op, a->Dispatch->NdkCreateListener(a, on_connect_event, &s->incoming, ex_create_done, op,
                                                           &s->listener),
                        (void **)&s->listener);
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkCreateListener", st);
  st = EX_CALL(op, s->listener->Dispatch->NdkListen(s->listener, (PSOCKADDR)addr, ex_address_length(addr),
                                                    ex_request_done, op));
  if (!NT_SUCCESS(st)) return ex_fail(n, "NdkListen", st);
  return 1;
}

/* Closes everything, successors before antecedents (closing an antecedent with open successors
 * would pend until they are closed, R24): connector and QP, window (bound to mem's MR), the
 * FRMR, the listener, then the node's MR, PD, CQs and the adapter. */
static void teardown(server *s) {
  ex_node *n = &s->n;
  ex_node_close_connection(n);
  EX_CLOSE(&n->op, s->mw, NdkCloseMw);
  EX_CLOSE(&n->op, s->fmr, NdkCloseMr);
  EX_CLOSE(&n->op, s->listener, NdkCloseListener);
  if (s->lam) n->adapter->Dispatch->NdkReleaseLAM(n->adapter, s->lam);
  free(s->lam);
  ex_node_close(n);
  ex_buffer_free(&s->frbuf);
}

int main(int argc, char **argv) {
  SOCKADDR_INET addr;
  server s;
  ex_node *n = &s.n;
  int ok = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2 || argc > 3 || !ex_parse_address(argv[1], argc == 3 ? (unsigned)atoi(argv[2]) : 0u, &addr)) {
    fprintf(stderr, "usage: " WHO " ADDRESS [PORT]\n");
    return 2;
  }
  memset(&s, 0, sizeof(s));
  ex_node_init(n, WHO);
  ex_op_init(&s.incoming);
  if (!setup(&s, &addr)) goto out;

  /* Which port did we get? (R94: port 0 picks an ephemeral port; GetLocalAddress tells.) */
  SOCKADDR_INET bound;
  ULONG blen = sizeof(bound);
  s.listener->Dispatch->NdkGetLocalAddress(s.listener, (PSOCKADDR)&bound, &blen);
  printf("listening on %s port %u\n", argv[1], ex_port(&bound));

  /* Post the first receive before accepting: a message may arrive as soon as we accepted. */
  if (!ex_post_receive(n)) goto out;
  if (!ex_op_wait(&s.incoming, 120)) {
    fprintf(stderr, WHO ": no client within 120 s\n");
    goto out;
  }
  n->connector = (NDK_CONNECTOR *)(void *)s.incoming.object;

  /* What the client asked for: its read limits and private data (R91). */
  char pdata[64] = {0};
  ULONG ird = 0, ord = 0, plen = sizeof(pdata) - 1;
  n->connector->Dispatch->NdkGetConnectionData(n->connector, &ird, &ord, pdata, &plen);
  printf("connect request: inbound read limit %u, outbound read limit %u, private data \"%s\"\n", (unsigned)ird,
         (unsigned)ord, pdata);

  /* Accept with private data of our own; completes once the client called NdkCompleteConnect
   * (R99). The disconnect event callback is registered here. */
  NTSTATUS st = EX_CALL(&n->op, n->connector->Dispatch->NdkAccept(n->connector, n->qp, 4, 4, (PVOID) "welcome", 8,
                                                                  ex_on_disconnect, &n->disconnected,
                                                                  ex_request_done, &n->op));
  if (!NT_SUCCESS(st)) {
    ex_fail(n, "NdkAccept", st);
    goto out;
  }
  printf("connected\n");

  /* Tell the client where the RDMA area is and its remote token. */
  if (!reply(&s, EX_HELLO, 0, (uint64_t)(uintptr_t)(n->mem.data + EX_OFF_RDMA),
             n->mr->Dispatch->NdkGetRemoteTokenFromMr(n->mr), (uint32_t)EX_RDMA_SIZE)) {
    goto out;
  }
  for (;;) {
    NDK_RESULT_EX rc;
    ex_msg m;
    if (!ex_next_message(n, &rc, &m)) goto out;
    if (!ex_post_receive(n)) goto out; /* before answering: the client's next message may follow */
    int r = handle(&s, &rc, &m);
    if (r == 0) goto out;
    if (r == 2) break;
  }
  /* The client disconnects after our EX_BYE ack: wait for the disconnect event, then disconnect
   * our side too (after a peer disconnect it completes at once; it flushes our last receive). */
  if (!ex_op_wait(&n->disconnected, EX_TIMEOUT_S)) {
    fprintf(stderr, WHO ": no disconnect event\n");
    goto out;
  }
  EX_CALL(&n->op, n->connector->Dispatch->NdkDisconnect(n->connector, ex_request_done, &n->op));
  printf("client disconnected, every check passed\n");
  ok = 1;
out:
  teardown(&s);
  return ok ? 0 : 1;
}
