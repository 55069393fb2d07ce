/*
 * wdk/wskndk.h - the NDK extension of WSK (wskndk.h): what WskControlClient
 * returns for WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH. WskOpenNdkAdapter opens an
 * NDK adapter instance through the host (OpenNdkOpenAdapter) with the
 * requested NDK version; WskCloseNdkAdapter closes it (blocking, R27).
 */
#ifndef OPENNDK_WDK_WSKNDK_H
#define OPENNDK_WDK_WSKNDK_H

#include <ndk/ndk.h>
#include <wdk/wsk.h>

OPENNDK_EXTERN_C_BEGIN

/* STATUS_SUCCESS with *ppNdkAdapter set; STATUS_INVALID_PARAMETER for a client
 * that is not a captured one or a NULL out pointer; otherwise the host's
 * status (e.g. NDIS_STATUS_ADAPTER_NOT_FOUND for an interface without NDK). */
typedef NTSTATUS(WSKAPI *PFN_WSK_NDK_OPEN_ADAPTER)(PWSK_CLIENT Client, NDK_VERSION NdkVersion, NET_IFINDEX IfIndex,
                                                   NDK_ADAPTER **ppNdkAdapter);
typedef VOID(WSKAPI *PFN_WSK_NDK_CLOSE_ADAPTER)(PWSK_CLIENT Client, NDK_ADAPTER *pNdkAdapter);

typedef struct _WSK_PROVIDER_NDK_DISPATCH {
  PFN_WSK_NDK_OPEN_ADAPTER WskOpenNdkAdapter;
  PFN_WSK_NDK_CLOSE_ADAPTER WskCloseNdkAdapter;
} WSK_PROVIDER_NDK_DISPATCH, *PWSK_PROVIDER_NDK_DISPATCH;

/* The four characters 'NDKD' as a multi-character constant, as in the WDK. */
#define WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH ((ULONG)0x4E444B44)

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_WDK_WSKNDK_H */
