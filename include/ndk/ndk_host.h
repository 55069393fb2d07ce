/*
 * ndk/ndk_host.h - OpenNDK host extensions: what a management tool or an NDK
 * consumer needs from the emulated NDIS host beyond the entry points of
 * ndk/ndk.h. Windows has no such header: there these facts come from NDIS,
 * the registry and PowerShell. Included by nothing else; include it
 * explicitly (it includes ndk/ndk.h).
 *
 * Interfaces are named by Linux interface index, as in ndk/ndk.h. Unless
 * stated otherwise every function returns NDIS_STATUS_SUCCESS,
 * NDIS_STATUS_ADAPTER_NOT_FOUND (not an NDK-capable interface) or
 * NDIS_STATUS_INVALID_PARAMETER (a required pointer is NULL). All functions
 * are blocking (PASSIVE_LEVEL) and thread-safe.
 */
#ifndef OPENNDK_NDK_NDK_HOST_H
#define OPENNDK_NDK_NDK_HOST_H

#include <ndk/ndk.h>

OPENNDK_EXTERN_C_BEGIN

#define NDK_HOST_IFNAME_LENGTH 16 /* IFNAMSIZ, terminating NUL included */

/* What the host knows about one interface (one emulated miniport adapter). */
typedef struct _NDK_HOST_INTERFACE_INFO {
  NET_IFINDEX InterfaceIndex;
  CHAR Name[NDK_HOST_IFNAME_LENGTH];
  BOOLEAN NdkEnabled;      /* NDK state as NDIS sees it (attributes, then PnP events) */
  BOOLEAN ProviderEnabled; /* the miniport's own state (set by OID_NDK_SET_STATE) */
  ULONG NetworkDirect;     /* current *NetworkDirect keyword value (R166) */
  ULONG AddressCount;      /* IPv4 + IPv6 addresses of the interface */
  ULONG OpenAdapterCount;  /* NDK_ADAPTER instances opened through OpenNdkOpenAdapter */
  ULONG PendingEvents;     /* queued or running NDK PnP work items (R160, R161) */
} NDK_HOST_INTERFACE_INFO;

/* Fills *Info for an interface. */
OPENNDK_API NDIS_STATUS OpenNdkQueryInterfaceInfo(NET_IFINDEX InterfaceIndex,
                                              NDK_HOST_INTERFACE_INFO *Info);

/* Writes up to Capacity addresses (port 0) and sets *Count to how many the
 * interface has (which may exceed Capacity). Addresses may be NULL when
 * Capacity is 0. */
OPENNDK_API NDIS_STATUS OpenNdkQueryInterfaceAddresses(NET_IFINDEX InterfaceIndex,
                                                   SOCKADDR_INET *Addresses,
                                                   ULONG Capacity, ULONG *Count);

/* Copies the NDIS_NDK_CAPABILITIES the miniport reported in
 * NdisMSetMiniportAttributes (R158) to *Capabilities; its NdkInfo member is
 * set to Info, which (when not NULL) receives a copy of the reported
 * NDK_ADAPTER_INFO. */
OPENNDK_API NDIS_STATUS OpenNdkQueryInterfaceCapabilities(NET_IFINDEX InterfaceIndex,
                                                      NDIS_NDK_CAPABILITIES *Capabilities,
                                                      NDK_ADAPTER_INFO *Info);

/* Blocks until no NDK PnP work item of the interface is queued or running and
 * its NDK state equals Enabled, or TimeoutMs elapses (STATUS_IO_TIMEOUT).
 * OID_NDK_SET_STATE returns before the state change is signalled (R160); use
 * this to wait for it. Must not be called from a state callback. */
OPENNDK_API NDIS_STATUS OpenNdkWaitInterfaceState(NET_IFINDEX InterfaceIndex, BOOLEAN Enabled,
                                              ULONG TimeoutMs);

/* Sets a registry keyword of an interface (the "Advanced" property page):
 * only "*NetworkDirect" (0 or 1) is known; others give
 * NDIS_STATUS_NOT_SUPPORTED, other values NDIS_STATUS_INVALID_DATA. Like on
 * Windows the miniport reads it on initialization and on OID_NDK_SET_STATE;
 * setting it does not change the current state. */
OPENNDK_API NDIS_STATUS OpenNdkSetInterfaceKeyword(NET_IFINDEX InterfaceIndex, const CHAR *Keyword,
                                               ULONG Value);

/* State-change notification (the role NDIS plays towards upper drivers,
 * R161). Called on the host's work-item thread, once per NetEventNDKEnable
 * (Enabled TRUE) and NetEventNDKDisable (Enabled FALSE). On a disable, the
 * consumer closes its NDK_ADAPTER instances on that interface with
 * OpenNdkCloseAdapter (it may do so inside the callback); the disable event stays
 * pending until every instance is closed. A callback must not call
 * OpenNdkWaitInterfaceState or OpenNdkDeregisterStateCallback. */
typedef VOID (*NDK_HOST_STATE_CALLBACK)(PVOID Context, NET_IFINDEX InterfaceIndex,
                                        BOOLEAN Enabled);

/* Registers a callback for every interface; *Registration receives a handle
 * for OpenNdkDeregisterStateCallback. */
OPENNDK_API NDIS_STATUS OpenNdkRegisterStateCallback(NDK_HOST_STATE_CALLBACK Callback, PVOID Context,
                                                 PVOID *Registration);

/* Removes a registration; blocks until no call of its callback is running. */
OPENNDK_API VOID OpenNdkDeregisterStateCallback(PVOID Registration);

/* Re-reads the OS interface list (interfaces and addresses come and go). */
OPENNDK_API VOID OpenNdkRefreshInterfaces(void);

/* One row of the tunable table (`ndk info --config`). Strings are NUL
 * terminated and truncated to fit. */
typedef struct _NDK_HOST_TUNABLE {
  CHAR Name[48];
  CHAR Value[96];
  CHAR DefaultValue[96];
  CHAR Unit[16];
  CHAR Description[160];
} NDK_HOST_TUNABLE;

/* Writes up to Capacity rows and returns how many there are in total. */
OPENNDK_API ULONG OpenNdkQueryTunables(NDK_HOST_TUNABLE *Tunables, ULONG Capacity);

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_NDK_NDK_HOST_H */
