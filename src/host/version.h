// The library version and the git commit it was configured from (baked in at configure time,
// cmake/version.h.in); OpenNdkGetVersion() (ndk/openndk.h) exports them.
#pragma once
#include <string>

namespace openndk::host {

const char* versionString();  // "0.1.0"
const char* gitCommit();      // "765837b1a2c3" or "unknown"

}  // namespace openndk::host
