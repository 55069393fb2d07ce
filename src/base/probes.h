// USDT static probes (systemtap-sdt-dev's <sys/sdt.h>): a nop instruction and an ELF note per
// probe, zero cost until perf/bpftrace/stap attaches (docs/openndk-provider.7.md TRACING). Without
// the header the probes compile to nothing. Arguments are never compile-time constants: perf
// cannot read an immediate operand (it drops the argument).
#pragma once

#if defined(__has_include)
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define OPENNDK_HAVE_USDT 1
#endif
#endif

#ifdef OPENNDK_HAVE_USDT
#define OPENNDK_PROBE1(name, a) DTRACE_PROBE1(openndk, name, a)
#define OPENNDK_PROBE2(name, a, b) DTRACE_PROBE2(openndk, name, a, b)
#define OPENNDK_PROBE3(name, a, b, c) DTRACE_PROBE3(openndk, name, a, b, c)
#define OPENNDK_PROBE4(name, a, b, c, d) DTRACE_PROBE4(openndk, name, a, b, c, d)
#define OPENNDK_PROBE6(name, a, b, c, d, e, f) DTRACE_PROBE6(openndk, name, a, b, c, d, e, f)
#else
#define OPENNDK_PROBE1(name, a) ((void)0)
#define OPENNDK_PROBE2(name, a, b) ((void)0)
#define OPENNDK_PROBE3(name, a, b, c) ((void)0)
#define OPENNDK_PROBE4(name, a, b, c, d) ((void)0)
#define OPENNDK_PROBE6(name, a, b, c, d, e, f) ((void)0)
#endif
