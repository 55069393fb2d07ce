// Helpers shared by the thunks (the static C functions of the dispatch tables).
#pragma once
#include <ndk/ndk.h>

#include "base/log.h"
#include "provider/object.h"

namespace openndk::provider {

// NdkCloseXxx of every table except the adapter's (R18–R28).
template <class T>
NTSTATUS closeThunk(NDK_OBJECT_HEADER* pNdkObject, NDK_FN_CLOSE_COMPLETION CloseCompletion, PVOID RequestContext) {
  NDK_RESOLVE_OR_RETURN(T, o, pNdkObject, T::kCloseName, Object::statusFor(o_why));
  return o->close(CloseCompletion, RequestContext);
}

// NdkQueryExtension of every table: no extension interface exists (R154).
template <class T>
NTSTATUS queryExtensionThunk(NDK_OBJECT_HEADER* pNdkObject, GUID* ExtensionInterfaceID, NDK_VERSION,
                             NDK_EXTENSION_INTERFACE* pExtensionInterface) {
  NDK_RESOLVE_OR_RETURN(T, o, pNdkObject, "NdkQueryExtension", Object::statusFor(o_why));
  if (!ExtensionInterfaceID || !pExtensionInterface)
    return o->reject("NdkQueryExtension", STATUS_INVALID_PARAMETER, "NULL interface id or output");
  return STATUS_NOT_SUPPORTED;
}

// Resolves an object passed as an argument (not the first one). On failure counts/logs on `self`
// and stores the status (NULL → INVALID_PARAMETER, wrong type → OBJECT_TYPE_MISMATCH, closed or
// garbage → INVALID_HANDLE).
template <class T>
T* argumentAs(const Object* self, const void* p, const char* fn, const char* what, NTSTATUS* status) {
  Lookup why = Lookup::Ok;
  T* o = Object::resolveAs<T>(p, &why);
  if (!o) *status = self->reject(fn, Object::statusFor(why), what);
  return o;
}

// Creation output pointer check shared by the create functions.
inline bool checkOut(const Object* self, const void* out, const char* fn, NTSTATUS* status) {
  if (out) return true;
  *status = self->reject(fn, STATUS_INVALID_PARAMETER, "NULL output pointer");
  return false;
}

}  // namespace openndk::provider
