// The soft-iWARP miniport driver: the NDIS-facing glue of the provider (NDKPI §6.1, R157–R165).
// DriverEntry registers the driver with an (emulated) NDIS; NDIS then calls MiniportSetOptions
// (registers Device::providerCharacteristics(), R157), MiniportInitializeEx per interface (creates
// a Device and reports its NDK attributes, R158), MiniportOidRequest (the four NDK OIDs, R159,
// R162–R165) and MiniportHaltEx.
//
// Built in the host room (src/host/CMakeLists.txt): it calls the emulated NDIS functions of
// host/ndis.h, and the provider room sits below the host.
#pragma once
#include <ndk/ndk.h>

#include "host/ndis.h"
#include "provider/device.h"

namespace openndk::provider {

// DriverEntry + NdisMRegisterMiniportDriver.
NDIS_STATUS SoftIwarpDriverEntry(host::Ndis& ndis);

// The Device behind a miniport adapter context (the context *is* the Device*).
inline Device* deviceOf(NDIS_HANDLE miniportAdapterContext) {
  return static_cast<Device*>(miniportAdapterContext);
}

// MiniportOidRequest of the soft miniport, exposed for tests.
NDIS_STATUS SoftIwarpOidRequest(NDIS_HANDLE miniportAdapterContext, host::NdisOidRequest* request);

}  // namespace openndk::provider
