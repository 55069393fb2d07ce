// OpenNdkGetVersion (ndk/openndk.h) and the version strings the control plane puts in its replies.
#include "host/version.h"

#include <ndk/openndk.h>

#include "openndk_version_config.h"

namespace openndk::host {

const char* versionString() { return OPENNDK_VERSION_STRING; }
const char* gitCommit() { return OPENNDK_GIT_COMMIT; }

}  // namespace openndk::host

namespace {
// Every NDKPI version OpenNdkOpenAdapter grants (Device::negotiateVersion: 1.0-1.2, 2.0-2.1).
const unsigned short kNdkpiVersions[][2] = {{1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}};
const OPENNDK_VERSION_INFO kVersion = {OPENNDK_VERSION_MAJOR, OPENNDK_VERSION_MINOR, OPENNDK_VERSION_PATCH,
                                       OPENNDK_VERSION_STRING, OPENNDK_GIT_COMMIT,
                                       sizeof kNdkpiVersions / sizeof kNdkpiVersions[0], kNdkpiVersions};
}  // namespace

extern "C" OPENNDK_API const OPENNDK_VERSION_INFO* OpenNdkGetVersion(void) { return &kVersion; }
