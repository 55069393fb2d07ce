// The soft-iWARP miniport driver: the NDIS-facing glue of the provider (NDKPI §6.1, R157–R165).
// DriverEntry registers the driver with an (emulated) NDIS; NDIS then calls MiniportSetOptions
// (registers Device::providerCharacteristics(), R157), MiniportInitializeEx per interface (creates
// a Device and reports its NDK attributes, R158), MiniportOidRequest (the four NDK OIDs, R159,
// R162–R165) and MiniportHaltEx.
//
// It belongs to the host room: it calls the emulated NDIS functions of host/ndis.h and builds the
// provider's Devices; the provider room below knows nothing of NDIS miniports.
#pragma once
#include <ndk/ndk.h>

#include "host/ndis.h"
#include "provider/device.h"

namespace openndk::host {

// DriverEntry + NdisMRegisterMiniportDriver.
NDIS_STATUS SoftIwarpDriverEntry(Ndis& ndis);

// The Device behind a miniport adapter context (the context *is* the Device*).
inline provider::Device* deviceOf(NDIS_HANDLE miniportAdapterContext) {
  return static_cast<provider::Device*>(miniportAdapterContext);
}

// MiniportOidRequest of the soft miniport, exposed for tests.
NDIS_STATUS SoftIwarpOidRequest(NDIS_HANDLE miniportAdapterContext, NdisOidRequest* request);

}  // namespace openndk::host
