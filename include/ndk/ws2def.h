/*
 * ndk/ws2def.h - Windows socket-address type names (ws2def.h, ws2ipdef.h).
 *
 * Spec: NDKPI.md section 7.5 and R108; decision recorded in docs/decisions.md
 * ("Socket addresses"). On Linux the Windows names are typedefs of the host's
 * own structures, so consumer code ported with only its includes changed keeps
 * working and can be mixed freely with <netinet/in.h>. The layouts are the
 * same as on Windows; the one visible difference is the value of AF_INET6
 * (23 on Windows, 10 on Linux): always compare against the AF_* macros, never
 * against literal numbers. Windows' sin6_scope_struct (SCOPE_ID) member is not
 * available; use sin6_scope_id.
 */
#ifndef OPENNDK_NDK_WS2DEF_H
#define OPENNDK_NDK_WS2DEF_H

#include <ndk/nt_types.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef USHORT ADDRESS_FAMILY;

typedef struct in_addr IN_ADDR, *PIN_ADDR;
typedef struct in6_addr IN6_ADDR, *PIN6_ADDR;

typedef struct sockaddr SOCKADDR, *PSOCKADDR, *LPSOCKADDR;
typedef struct sockaddr_in SOCKADDR_IN, *PSOCKADDR_IN;
typedef struct sockaddr_in6 SOCKADDR_IN6, *PSOCKADDR_IN6;
typedef struct sockaddr_storage SOCKADDR_STORAGE, *PSOCKADDR_STORAGE;

/* Either address family; si_family overlays both *_family members. */
typedef union _SOCKADDR_INET {
  SOCKADDR_IN Ipv4;
  SOCKADDR_IN6 Ipv6;
  ADDRESS_FAMILY si_family;
} SOCKADDR_INET, *PSOCKADDR_INET;

#endif /* OPENNDK_NDK_WS2DEF_H */
