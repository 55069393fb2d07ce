/*
 * ndk-example-client - the active side of the OpenNDK example (docs/examples.md).
 *
 *   ndk-example-client SERVER_ADDRESS PORT [LOCAL_ADDRESS]
 *
 * Connects to ndk-example-server and runs, with random data that the receiving side verifies:
 *
 *   1 send/receive   NdkSend/NdkReceive both ways, sizes 0, 1, 4095, 4096, 64 KiB, 4 MiB,
 *                    each message in several SGEs
 *   2 RDMA write     NdkWrite into the server's MR, same sizes, two SGEs
 *   3 RDMA read      NdkRead from the server's MR, same sizes, two sink SGEs
 *   4 fast register  the server fast-registers an FRMR (NdkFastRegister, remote write);
 *                    we write into it through the token it sends
 *   5 memory window  the server binds a window (NdkBind, remote read); we read through it
 *   6 send and       NdkSendAndInvalidate with the FRMR's token, then the window's; the server
 *     invalidate     checks its receive completion reports the invalidated token and that the
 *                    token is no longer valid; then the FRMR is registered and used again
 *
 * One line per step; exit status 0 only when every step passed. LOCAL_ADDRESS (the address whose
 * NDK adapter we use) defaults to the address the routing table picks to reach the server.
 */
#include "ndk_example.h"

#define WHO "ndk-example-client"

static const ULONG sizes[] = {0, 1, 4095, 4096, 64 * 1024, EX_MAX_PAYLOAD};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

typedef struct client {
  ex_node n;        /* adapter, CQs, PD, `mem` MR, QP, connector (ndk_example.h) */
  uint64_t seed;    /* seeds of every pattern derive from this one (printed: reproducible) */
  uint64_t raddr;   /* the server's RDMA area ... */
  uint32_t rtoken;  /* ... and its remote token, from EX_HELLO */
  ex_msg answer;    /* the server's last answer */
} client;

static uint64_t next_seed(client *c) { return ex_next(&c->seed); }

/* One request/answer round trip: post the receive for the answer first (iWARP has no "receiver
 * not ready" retry: a Send without a posted receive breaks the connection), send ex_txmsg with
 * `payload` bytes (with NdkSendAndInvalidate when `invalidate` is a token), wait for the answer.
 * Returns 1 when the server answered with status 0. */
static int round_trip(client *c, ULONG payload, UINT32 invalidate) {
  NDK_RESULT_EX rc;
  ex_node *n = &c->n;
  if (!ex_post_receive(n) || !ex_send(n, payload, invalidate) || !ex_next_message(n, &rc, &c->answer)) return 0;
  if (c->answer.status != 0) {
    fprintf(stderr, WHO ": the server reported failure %u for message %u\n", (unsigned)c->answer.status,
            (unsigned)ex_txmsg(n)->op);
    return 0;
  }
  if (c->answer.op == EX_DATA && rc.BytesTransferred != sizeof(ex_msg) + c->answer.length) return 0;
  return 1;
}

/* An RDMA Write or Read of [local, local+len) against [raddr, raddr+len) with token `rtoken`, in
 * two SGEs, and its completion. A Write completes once handed to the transport (R75): the data is
 * known to be placed once a later Send or Read on the stream has been answered; a Read completes
 * once the data is here. */
static int rdma(client *c, int write, unsigned char *local, ULONG len, uint64_t raddr, UINT32 rtoken) {
  ex_node *n = &c->n;
  NDK_SGE sg[2];
  ULONG cnt = ex_split(sg, local, len, len / 2 + 1, n->ltoken);
  NTSTATUS st;
  if (write) {
    st = n->qp->Dispatch->NdkWrite(n->qp, EX_CTX(EX_CTX_WRITE), sg, cnt, raddr, rtoken, 0);
  } else {
    st = n->qp->Dispatch->NdkRead(n->qp, EX_CTX(EX_CTX_READ), sg, cnt, raddr, rtoken, 0);
  }
  if (st != STATUS_SUCCESS) return ex_fail(n, write ? "NdkWrite" : "NdkRead", st);
  return ex_expect(&n->icq, EX_CTX(write ? EX_CTX_WRITE : EX_CTX_READ),
                   write ? NdkOperationTypeWrite : NdkOperationTypeRead, NULL);
}

/* Step 1: EX_DATA both ways; the server verifies ours, we verify its answer. */
static int step_send_receive(client *c) {
  ex_node *n = &c->n;
  for (size_t i = 0; i < NSIZES; ++i) {
    ex_msg *m = ex_compose(n, EX_DATA, 0);
    m->length = sizes[i];
    m->seed = next_seed(c);
    ex_fill(n->mem.data + EX_OFF_TXDATA, sizes[i], m->seed);
    if (!round_trip(c, sizes[i], 0)) return 0;
    if (c->answer.op != EX_DATA || c->answer.length != sizes[i] ||
        ex_check(n->mem.data + EX_OFF_RXDATA, sizes[i], c->answer.seed, WHO ": received payload")) {
      return 0;
    }
  }
  return 1;
}

/* Step 2: write a pattern at an odd offset of the server's area, then tell the server to check. */
static int step_write(client *c) {
  ex_node *n = &c->n;
  unsigned char *src = n->mem.data + EX_OFF_RDMA;
  for (size_t i = 0; i < NSIZES; ++i) {
    uint64_t seed = next_seed(c);
    ex_fill(src, sizes[i], seed);
    if (!rdma(c, 1, src, sizes[i], c->raddr + 7, c->rtoken)) return 0;
    ex_msg *m = ex_compose(n, EX_WROTE, 0);
    m->seed = seed;
    m->offset = 7;
    m->length = sizes[i];
    if (!round_trip(c, 0, 0)) return 0;
  }
  return 1;
}

/* Step 3: the server puts a pattern in its area; we read it and check. */
static int step_read(client *c) {
  ex_node *n = &c->n;
  unsigned char *sink = n->mem.data + EX_OFF_RDMA;
  for (size_t i = 0; i < NSIZES; ++i) {
    ex_msg *m = ex_compose(n, EX_READ_PREP, 0);
    m->seed = next_seed(c);
    m->offset = 13;
    m->length = sizes[i];
    uint64_t seed = m->seed;
    if (!round_trip(c, 0, 0)) return 0;
    memset(sink, 0, sizes[i]);
    if (!rdma(c, 0, sink, sizes[i], c->raddr + 13, c->rtoken)) return 0;
    if (ex_check(sink, sizes[i], seed, WHO ": RDMA Read sink")) return 0;
  }
  return 1;
}

/* Step 4: ask for a fast registration, write through it, let the server check. Returns the
 * registration's token (0 on failure). */
static UINT32 step_fast_register(client *c, ULONG len) {
  ex_node *n = &c->n;
  ex_compose(n, EX_FR_REQ, 0)->length = len;
  if (!round_trip(c, 0, 0) || c->answer.length != len) return 0;
  uint64_t base = c->answer.addr;
  UINT32 token = c->answer.token;
  uint64_t seed = next_seed(c);
  unsigned char *src = n->mem.data + EX_OFF_RDMA;
  ex_fill(src, len, seed);
  if (!rdma(c, 1, src, len, base, token)) return 0;
  ex_msg *m = ex_compose(n, EX_FR_WROTE, 0);
  m->seed = seed;
  m->length = len;
  return round_trip(c, 0, 0) ? token : 0;
}

/* Step 5: ask for a window over a pattern, read through it. Returns the window's token. */
static UINT32 step_window(client *c, ULONG len) {
  ex_node *n = &c->n;
  ex_msg *m = ex_compose(n, EX_MW_REQ, 0);
  m->seed = next_seed(c);
  m->offset = PAGE_SIZE + 29;
  m->length = len;
  uint64_t seed = m->seed;
  if (!round_trip(c, 0, 0) || c->answer.length != len) return 0;
  unsigned char *sink = n->mem.data + EX_OFF_RDMA;
  memset(sink, 0, len);
  if (!rdma(c, 0, sink, len, c->answer.addr, c->answer.token)) return 0;
  return ex_check(sink, len, seed, WHO ": read through the window") ? 0 : c->answer.token;
}

/* Step 6: NdkSendAndInvalidate of `token`; the server checks and acknowledges. */
static int send_and_invalidate(client *c, UINT32 token) {
  ex_compose(&c->n, EX_INVALIDATE, 0)->token = token;
  return round_trip(c, 0, token);
}

/* The local address the routing table uses toward `server` (a UDP socket's connect() binds it). */
static int route_source(const SOCKADDR_INET *server, SOCKADDR_INET *local) {
  int fd = socket(server->si_family, SOCK_DGRAM, 0);
  socklen_t len = sizeof(*local);
  int ok = fd >= 0 && connect(fd, (const struct sockaddr *)server, ex_address_length(server)) == 0 &&
           getsockname(fd, (struct sockaddr *)local, &len) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

static int report(int step, const char *what, int ok) {
  printf("step %d %-28s %s\n", step, what, ok ? "ok" : "FAILED");
  return ok;
}

int main(int argc, char **argv) {
  SOCKADDR_INET server_addr, local;
  client c;
  ex_node *n = &c.n;
  int ok = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 3 || argc > 4 || !ex_parse_address(argv[1], (unsigned)atoi(argv[2]), &server_addr) ||
      (argc == 4 && !ex_parse_address(argv[3], 0, &local)) || (argc == 3 && !route_source(&server_addr, &local))) {
    fprintf(stderr, "usage: " WHO " SERVER_ADDRESS PORT [LOCAL_ADDRESS]\n");
    return 2;
  }
  if (local.si_family == AF_INET) local.Ipv4.sin_port = 0; /* port 0: the provider picks (R94) */
  else local.Ipv6.sin6_port = 0;
  memset(&c, 0, sizeof(c));
  ex_node_init(n, WHO);
  c.seed = ex_random_seed();
  printf("pattern seed %llu\n", (unsigned long long)c.seed);
  if (!ex_node_setup(n, &local)) goto out;

  /* The server's first message (EX_HELLO) may arrive right after the connection is up: post
   * its receive before connecting. */
  if (!ex_post_receive(n)) goto out;
  ex_op_reset(&n->op);
  NTSTATUS st = ex_finish_create(&n->op, n->adapter->Dispatch->NdkCreateConnector(n->adapter, ex_create_done, &n->op,
                                                                                   &n->connector),
                                 (void **)&n->connector);
  if (!NT_SUCCESS(st)) {
    ex_fail(n, "NdkCreateConnector", st);
    goto out;
  }
  /* Connect: completes when the server accepted (R97); IRD/ORD 4, private data for the server. */
  st = EX_CALL(&n->op, n->connector->Dispatch->NdkConnect(n->connector, n->qp, (PSOCKADDR)&local,
                                                          ex_address_length(&local), (PSOCKADDR)&server_addr,
                                                          ex_address_length(&server_addr), 4, 4,
                                                          (PVOID) "ndk-example", 12, ex_request_done, &n->op));
  if (!NT_SUCCESS(st)) {
    ex_fail(n, "NdkConnect", st);
    goto out;
  }
  /* Before completing: the server's answer (read limits it granted, its private data). */
  char pdata[64] = {0};
  ULONG ird = 0, ord = 0, plen = sizeof(pdata) - 1;
  n->connector->Dispatch->NdkGetConnectionData(n->connector, &ird, &ord, pdata, &plen);
  printf("accepted: inbound read limit %u, outbound read limit %u, private data \"%s\"\n", (unsigned)ird,
         (unsigned)ord, pdata);
  st = EX_CALL(&n->op, n->connector->Dispatch->NdkCompleteConnect(n->connector, ex_on_disconnect, &n->disconnected,
                                                                  ex_request_done, &n->op));
  if (!NT_SUCCESS(st)) {
    ex_fail(n, "NdkCompleteConnect", st);
    goto out;
  }
  NDK_RESULT_EX rc;
  if (!ex_next_message(n, &rc, &c.answer) || c.answer.op != EX_HELLO) goto out;
  c.raddr = c.answer.addr;
  c.rtoken = c.answer.token;
  printf("connected\n");

  if (!report(1, "send/receive", step_send_receive(&c))) goto out;
  if (!report(2, "RDMA write", step_write(&c))) goto out;
  if (!report(3, "RDMA read", step_read(&c))) goto out;
  UINT32 fr_token = step_fast_register(&c, 200 * 1024 + 5);
  if (!report(4, "fast register + remote write", fr_token != 0)) goto out;
  UINT32 mw_token = step_window(&c, 64 * 1024 + 3);
  if (!report(5, "bind window + remote read", mw_token != 0)) goto out;
  /* Invalidate both tokens remotely; then the FRMR can be registered again (R131) and used. */
  int inv = send_and_invalidate(&c, fr_token) && send_and_invalidate(&c, mw_token) &&
            step_fast_register(&c, 4096) != 0;
  if (!report(6, "send and invalidate", inv)) goto out;

  ex_compose(n, EX_BYE, 0);
  if (!round_trip(&c, 0, 0)) goto out;
  /* Graceful disconnect: pends until the connection is closed. */
  st = EX_CALL(&n->op, n->connector->Dispatch->NdkDisconnect(n->connector, ex_request_done, &n->op));
  if (!NT_SUCCESS(st)) {
    ex_fail(n, "NdkDisconnect", st);
    goto out;
  }
  printf("all steps passed\n");
  ok = 1;
out:
  ex_node_close(n);
  return ok ? 0 : 1;
}
