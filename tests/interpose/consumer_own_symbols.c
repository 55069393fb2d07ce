/* The consumer's own functions whose names libopenndk also uses: a Windows consumer naturally
 * defines NdkOpenAdapter/NdkCloseAdapter wrappers, and a port may carry its own MDL helpers.
 * Other signatures on purpose. This file includes no OpenNDK header. */
int g_consumer_symbol_calls = 0;

int NdkOpenAdapter(const char *name) {
  (void)name;
  return ++g_consumer_symbol_calls;
}
int NdkCloseAdapter(int handle) {
  (void)handle;
  return ++g_consumer_symbol_calls;
}
void *IoAllocateMdl(int size) {
  (void)size;
  ++g_consumer_symbol_calls;
  return 0;
}
void IoFreeMdl(void *mdl, int flags) {
  (void)mdl;
  (void)flags;
  ++g_consumer_symbol_calls;
}
int MmProbeAndLockPages(void) { return ++g_consumer_symbol_calls; }
