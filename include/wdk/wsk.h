/*
 * wdk/wsk.h - Winsock Kernel registration (wsk.h) as far as NDK consumers use
 * it: a client registers, captures the provider NPI and asks WskControlClient
 * for the NDK extension (wdk/wskndk.h). The WSK subsystem here is always ready.
 * Sockets (WskSocket, WskSocketConnect, name resolution) are not emulated:
 * their dispatch members exist and fail with STATUS_NOT_SUPPORTED. IRPs are not
 * emulated: calls given one fail with STATUS_NOT_SUPPORTED.
 */
#ifndef OPENNDK_WDK_WSK_H
#define OPENNDK_WDK_WSK_H

#include <wdk/wdm.h>

OPENNDK_EXTERN_C_BEGIN

#define WSKAPI
#define MAKE_WSK_VERSION(Mj, Mn) ((USHORT)((Mj) << 8) | (USHORT)((Mn)&0xff))
#define WSK_MAJOR_VERSION(V) ((UCHAR)((V) >> 8))
#define WSK_MINOR_VERSION(V) ((UCHAR)(V))
#define WSK_API_VERSION_1_0 MAKE_WSK_VERSION(1, 0)
#define WSK_API_VERSION_1_1 MAKE_WSK_VERSION(1, 1)
#define WSK_NO_WAIT 0
#define WSK_INFINITE_WAIT 0xffffffff

/* Control codes of WskControlClient this library knows (others: STATUS_NOT_SUPPORTED). */
#define WSK_TRANSPORT_LIST_QUERY 2
#define WSK_TRANSPORT_LIST_CHANGE 3
#define WSK_CACHE_SD 4
#define WSK_RELEASE_SD 5
#define WSK_TDI_DEVICENAME_MAPPING 6
#define WSK_SET_STATIC_EVENT_CALLBACKS 7
#define WSK_TDI_BEHAVIOR 8

typedef struct _WSK_CLIENT WSK_CLIENT, *PWSK_CLIENT; /* opaque */
typedef struct _WSK_SOCKET {
  const VOID *Dispatch;
} WSK_SOCKET, *PWSK_SOCKET;
typedef USHORT ADDRESS_FAMILY;

typedef NTSTATUS(WSKAPI *PFN_WSK_CLIENT_EVENT)(PVOID ClientContext, ULONG EventType, PVOID Information,
                                                SIZE_T InformationLength);
typedef struct _WSK_CLIENT_DISPATCH {
  USHORT Version;
  USHORT Reserved;
  PFN_WSK_CLIENT_EVENT WskClientEvent;
} WSK_CLIENT_DISPATCH, *PWSK_CLIENT_DISPATCH;

typedef struct _WSK_CLIENT_NPI {
  PVOID ClientContext;
  const WSK_CLIENT_DISPATCH *Dispatch;
} WSK_CLIENT_NPI, *PWSK_CLIENT_NPI;

/* Opaque to the client; must stay at one address from WskRegister to WskDeregister. */
typedef struct _WSK_REGISTRATION {
  ULONGLONG ReservedRegistrationState;
  PVOID ReservedRegistrationContext;
  KSPIN_LOCK ReservedRegistrationLock;
} WSK_REGISTRATION, *PWSK_REGISTRATION;

typedef NTSTATUS(WSKAPI *PFN_WSK_SOCKET)(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
                                         ULONG Protocol, ULONG Flags, PVOID SocketContext, const VOID *Dispatch,
                                         PVOID OwningProcess, PVOID OwningThread, PVOID SecurityDescriptor,
                                         PIRP Irp);
typedef NTSTATUS(WSKAPI *PFN_WSK_SOCKET_CONNECT)(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
                                                 PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
                                                 PVOID SocketContext, const VOID *Dispatch, PVOID OwningProcess,
                                                 PVOID OwningThread, PVOID SecurityDescriptor, PIRP Irp);
/* InputBuffer/OutputBuffer as documented; OutputSizeReturned may be NULL. */
typedef NTSTATUS(WSKAPI *PFN_WSK_CONTROL_CLIENT)(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize,
                                                 PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                                 SIZE_T *OutputSizeReturned, PIRP Irp);

typedef struct _WSK_PROVIDER_DISPATCH {
  USHORT Version;
  USHORT Reserved;
  PFN_WSK_SOCKET WskSocket;
  PFN_WSK_SOCKET_CONNECT WskSocketConnect;
  PFN_WSK_CONTROL_CLIENT WskControlClient;
} WSK_PROVIDER_DISPATCH, *PWSK_PROVIDER_DISPATCH;

typedef struct _WSK_PROVIDER_NPI {
  PWSK_CLIENT Client;
  const WSK_PROVIDER_DISPATCH *Dispatch;
} WSK_PROVIDER_NPI, *PWSK_PROVIDER_NPI;

/* STATUS_INVALID_PARAMETER for NULL arguments or a NULL client dispatch;
 * STATUS_NOINTERFACE for a client version whose major is not 1. */
OPENNDK_KCOMPAT_API NTSTATUS WskRegister(PWSK_CLIENT_NPI WskClientNpi, PWSK_REGISTRATION WskRegistration);
/* Waits until every captured provider NPI is released (as on Windows), then
 * invalidates the registration. A registration that is not registered is ignored. */
OPENNDK_KCOMPAT_API VOID WskDeregister(PWSK_REGISTRATION WskRegistration);
/* STATUS_SUCCESS at once (the subsystem is always ready), whatever WaitTimeout;
 * STATUS_INVALID_PARAMETER for an unregistered registration or a NULL NPI;
 * STATUS_DEVICE_NOT_READY once WskDeregister has started. */
OPENNDK_KCOMPAT_API NTSTATUS WskCaptureProviderNPI(PWSK_REGISTRATION WskRegistration, ULONG WaitTimeout,
                                                   PWSK_PROVIDER_NPI WskProviderNpi);
OPENNDK_KCOMPAT_API VOID WskReleaseProviderNPI(PWSK_REGISTRATION WskRegistration);

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_WDK_WSK_H */
