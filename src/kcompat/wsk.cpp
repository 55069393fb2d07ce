// The WSK registration and its NDK extension of libopenndk_kcompat (include/wdk/wsk.h,
// include/wdk/wskndk.h). A registration owns one client object; captures count references so
// that WskDeregister can wait for the last WskReleaseProviderNPI, as on Windows.
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>

#include "kcompat/internal.h"
#include "wdk/wskndk.h"

namespace {

constexpr ULONGLONG kRegistered = 0x4b53575f52474552ULL;  // "REGR_WSK"
constexpr ULONGLONG kDeregistered = 0x4b53575f44414544ULL;
constexpr ULONG kClientMagic = 0x544e4c43;  // "CLNT"

}  // namespace

struct _WSK_CLIENT {
  ULONG magic = kClientMagic;
  WSK_CLIENT_NPI npi{};
  std::mutex mu;
  std::condition_variable released;
  unsigned captures = 0;
  bool deregistering = false;
};

namespace {

NTSTATUS WSKAPI socketNotEmulated(PWSK_CLIENT, ADDRESS_FAMILY, USHORT, ULONG, ULONG, PVOID, const VOID*, PVOID, PVOID,
                                  PVOID, PIRP) {
  return STATUS_NOT_SUPPORTED;
}
NTSTATUS WSKAPI socketConnectNotEmulated(PWSK_CLIENT, USHORT, ULONG, PSOCKADDR, PSOCKADDR, ULONG, PVOID, const VOID*,
                                         PVOID, PVOID, PVOID, PIRP) {
  return STATUS_NOT_SUPPORTED;
}

// A client pointer handed out by WskCaptureProviderNPI and still captured.
bool usableClient(PWSK_CLIENT c) {
  if (!c || c->magic != kClientMagic) return false;
  std::lock_guard lock(c->mu);
  return c->captures > 0;
}

NTSTATUS WSKAPI openNdkAdapter(PWSK_CLIENT Client, NDK_VERSION NdkVersion, NET_IFINDEX IfIndex,
                               NDK_ADAPTER** ppNdkAdapter) {
  if (!ppNdkAdapter || !usableClient(Client)) return STATUS_INVALID_PARAMETER;
  *ppNdkAdapter = nullptr;
  NDIS_OPEN_NDK_ADAPTER_PARAMETERS params{};
  params.Version = NdkVersion;
  return OpenNdkOpenAdapter(IfIndex, &params, ppNdkAdapter);
}

VOID WSKAPI closeNdkAdapter(PWSK_CLIENT Client, NDK_ADAPTER* pNdkAdapter) {
  if (!usableClient(Client)) {
    openndk::kcompat::report("WskCloseNdkAdapter: client is not a captured WSK client");
    return;
  }
  OpenNdkCloseAdapter(pNdkAdapter);
}

const WSK_PROVIDER_NDK_DISPATCH kNdkDispatch = {openNdkAdapter, closeNdkAdapter};

NTSTATUS WSKAPI controlClient(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize, PVOID InputBuffer,
                              SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T* OutputSizeReturned, PIRP Irp) {
  if (!usableClient(Client)) return STATUS_INVALID_PARAMETER;
  if (Irp) return STATUS_NOT_SUPPORTED;  // IRPs are not emulated
  if (ControlCode != WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH) return STATUS_NOT_SUPPORTED;
  if (InputSize != 0 || InputBuffer) return STATUS_INVALID_PARAMETER;
  if (OutputSizeReturned) *OutputSizeReturned = 0;
  if (!OutputBuffer || OutputSize < sizeof(WSK_PROVIDER_NDK_DISPATCH)) {
    if (OutputSizeReturned) *OutputSizeReturned = sizeof(WSK_PROVIDER_NDK_DISPATCH);
    return OutputBuffer ? STATUS_BUFFER_TOO_SMALL : STATUS_INVALID_PARAMETER;
  }
  std::memcpy(OutputBuffer, &kNdkDispatch, sizeof kNdkDispatch);
  if (OutputSizeReturned) *OutputSizeReturned = sizeof kNdkDispatch;
  return STATUS_SUCCESS;
}

const WSK_PROVIDER_DISPATCH kProviderDispatch = {WSK_API_VERSION_1_0, 0, socketNotEmulated, socketConnectNotEmulated,
                                                 controlClient};

PWSK_CLIENT clientOf(PWSK_REGISTRATION r) {
  if (!r || r->ReservedRegistrationState != kRegistered) return nullptr;
  return static_cast<PWSK_CLIENT>(r->ReservedRegistrationContext);
}

}  // namespace

extern "C" {

OPENNDK_KCOMPAT_API NTSTATUS WskRegister(PWSK_CLIENT_NPI WskClientNpi, PWSK_REGISTRATION WskRegistration) {
  if (!WskClientNpi || !WskRegistration || !WskClientNpi->Dispatch) return STATUS_INVALID_PARAMETER;
  if (WSK_MAJOR_VERSION(WskClientNpi->Dispatch->Version) != 1) return STATUS_NOINTERFACE;
  auto* c = new (std::nothrow) _WSK_CLIENT;
  if (!c) return STATUS_INSUFFICIENT_RESOURCES;
  c->npi = *WskClientNpi;
  WskRegistration->ReservedRegistrationContext = c;
  WskRegistration->ReservedRegistrationLock = 0;
  WskRegistration->ReservedRegistrationState = kRegistered;
  return STATUS_SUCCESS;
}

OPENNDK_KCOMPAT_API VOID WskDeregister(PWSK_REGISTRATION WskRegistration) {
  PWSK_CLIENT c = clientOf(WskRegistration);
  if (!c) return;
  {
    std::unique_lock lock(c->mu);
    c->deregistering = true;
    c->released.wait(lock, [c] { return c->captures == 0; });
  }
  WskRegistration->ReservedRegistrationState = kDeregistered;
  WskRegistration->ReservedRegistrationContext = nullptr;
  c->magic = 0;
  delete c;
}

OPENNDK_KCOMPAT_API NTSTATUS WskCaptureProviderNPI(PWSK_REGISTRATION WskRegistration, ULONG,
                                                   PWSK_PROVIDER_NPI WskProviderNpi) {
  PWSK_CLIENT c = clientOf(WskRegistration);
  if (!c || !WskProviderNpi) return STATUS_INVALID_PARAMETER;
  {
    std::lock_guard lock(c->mu);
    if (c->deregistering) return STATUS_DEVICE_NOT_READY;
    ++c->captures;
  }
  WskProviderNpi->Client = c;
  WskProviderNpi->Dispatch = &kProviderDispatch;
  return STATUS_SUCCESS;
}

OPENNDK_KCOMPAT_API VOID WskReleaseProviderNPI(PWSK_REGISTRATION WskRegistration) {
  PWSK_CLIENT c = clientOf(WskRegistration);
  if (!c) return;
  std::lock_guard lock(c->mu);
  if (c->captures == 0) {
    openndk::kcompat::report("WskReleaseProviderNPI: released more often than captured");
    return;
  }
  if (--c->captures == 0) c->released.notify_all();
}

}  // extern "C"
