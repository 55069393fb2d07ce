/* Uses libopenndk through paths that call IoAllocateMdl, MmProbeAndLockPages and IoFreeMdl
 * inside the library (OpenNdkAllocateMdlChain / OpenNdkFreeMdlChain) and opens an adapter:
 * none of them may reach the consumer's functions of the same names (consumer_own_symbols.c). */
#include <ndk/ndk.h>

#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>

extern int g_consumer_symbol_calls;
int NdkOpenAdapter(const char *name); /* the consumer's, not a library function */

int main(void) {
  int failures = 0;
  const SIZE_T length = 3 * PAGE_SIZE + 100;
  char *buffer = aligned_alloc(PAGE_SIZE, 4 * PAGE_SIZE);
  PMDL chain = OpenNdkAllocateMdlChain(buffer + 16, length, 2 * PAGE_SIZE);
  if (chain == NULL || OpenNdkGetMdlChainByteCount(chain) != length) {
    printf("FAIL: OpenNdkAllocateMdlChain did not build a %zu-byte chain\n", (size_t)length);
    ++failures;
  }
  OpenNdkFreeMdlChain(chain);

  NDK_ADAPTER *adapter = NULL;
  NTSTATUS st = OpenNdkOpenAdapter(if_nametoindex("lo"), NULL, &adapter);
  if (st != STATUS_SUCCESS || adapter == NULL) {
    printf("FAIL: OpenNdkOpenAdapter(lo) = 0x%08X\n", (unsigned)st);
    ++failures;
  } else {
    OpenNdkCloseAdapter(adapter);
  }
  if (g_consumer_symbol_calls != 0) {
    printf("FAIL: libopenndk called %d of the consumer's functions\n", g_consumer_symbol_calls);
    ++failures;
  }
  /* The consumer's own call reaches its own definition. */
  if (NdkOpenAdapter("mine") != 1) {
    printf("FAIL: the consumer's NdkOpenAdapter was not called\n");
    ++failures;
  }
  free(buffer);
  if (failures == 0) printf("PASS: no interposition\n");
  return failures == 0 ? 0 : 1;
}
