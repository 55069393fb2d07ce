/*
 * ndk/openndk.h - OpenNDK's own entry points (not part of NDKPI): the library version and
 * the host-wide control plane's runtime directory (docs/tools.md "The control plane").
 */
#ifndef OPENNDK_NDK_OPENNDK_H
#define OPENNDK_NDK_OPENNDK_H

#include <ndk/openndk_api.h>

OPENNDK_EXTERN_C_BEGIN

typedef struct _OPENNDK_VERSION_INFO {
  unsigned int Major;          /* library version: Major.Minor.Patch */
  unsigned int Minor;
  unsigned int Patch;
  const char* VersionString;   /* "0.1.0" */
  const char* GitCommit;       /* commit the library was configured from, "unknown" outside git */
  unsigned int NdkpiVersionCount;  /* entries of NdkpiVersions */
  const unsigned short (*NdkpiVersions)[2];  /* NDKPI versions an adapter can be opened with: {major, minor} */
} OPENNDK_VERSION_INFO;

/* The library's version; the returned object is static and never changes. */
OPENNDK_API const OPENNDK_VERSION_INFO* OpenNdkGetVersion(void);

/*
 * The control plane's runtime directory: $OPENNDK_RUNTIME_DIR, else $XDG_RUNTIME_DIR/openndk,
 * else /tmp/openndk-<uid>. Writes the NUL-terminated path into Buffer (at most Capacity bytes)
 * and returns its length without the NUL; if that is >= Capacity the path was truncated.
 */
OPENNDK_API unsigned long OpenNdkRuntimeDirectory(char* Buffer, unsigned long Capacity);

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_NDK_OPENNDK_H */
