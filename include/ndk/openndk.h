/*
 * ndk/openndk.h - OpenNDK's own entry points (not part of NDKPI): the library version, the
 * host-wide control plane's runtime directory (docs/tools.md "The control plane") and the reason
 * a connection failed.
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

/*
 * Why the connection of Connector (an NDK_CONNECTOR* of this library) could not be set up, or
 * ended abnormally: NDKPI completes NdkConnect/NdkAccept/NdkCompleteConnect with a status only
 * (STATUS_CONNECTION_ABORTED for a peer that is not iWARP as for many other causes). One line of
 * text such as "MPA exchange failed: peer sent non-MPA data (...)", "MPA exchange failed: no MPA
 * answer from the peer in time", "Terminate received: ...", "socket: connection reset".
 * Readable until NdkCloseConnector. Writes the NUL-terminated text into Buffer (at most Capacity
 * bytes) and returns its length without the NUL (>= Capacity: truncated); 0 when the connection
 * did not fail (or has not yet) or Connector is not a live connector. The NDK ABI is unchanged.
 */
struct _NDK_CONNECTOR;
OPENNDK_API unsigned long OpenNdkGetConnectorFailure(const struct _NDK_CONNECTOR* Connector, char* Buffer,
                                                     unsigned long Capacity);

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_NDK_OPENNDK_H */
