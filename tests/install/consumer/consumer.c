/* A consumer built against an installed OpenNDK (tests/install/install_test.sh): includes the
 * public headers, links libopenndk.so, prints the version and the NDK-capable interfaces. */
#include <ndk/ndk.h>
#include <ndk/ndk_host.h>
#include <ndk/openndk.h>
#include <stdio.h>

int main(void) {
  const OPENNDK_VERSION_INFO* v = OpenNdkGetVersion();
  NET_IFINDEX ifs[64];
  ULONG n = OpenNdkEnumerateInterfaces(ifs, 64);
  printf("consumer: OpenNDK %s (commit %s), %u NDKPI versions, %lu NDK interface(s)\n", v->VersionString,
         v->GitCommit, v->NdkpiVersionCount, (unsigned long)n);
  return v->NdkpiVersionCount > 0 && n > 0 ? 0 : 1;
}
