/* tests/kshim/export_test.c - libopenndk.so (built with hidden visibility)
 * exports the MDL routines of ndk/mdl.h. */
#include <ndk/mdl.h>

#include <dlfcn.h>
#include <stdio.h>

int main(void) {
  static const char *const names[] = {
      "IoAllocateMdl",         "IoFreeMdl",           "MmBuildMdlForNonPagedPool",
      "MmProbeAndLockPages",   "MmUnlockPages",       "IoBuildPartialMdl",
      "OpenNdkAllocateMdlChain", "OpenNdkFreeMdlChain", "OpenNdkGetMdlChainByteCount",
  };
  void *lib = dlopen(OPENNDK_SO, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    printf("dlopen(%s): %s\n", OPENNDK_SO, dlerror());
    return 1;
  }
  int failures = 0;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
    if (dlsym(lib, names[i]) == NULL) {
      printf("FAIL: %s not exported\n", names[i]);
      ++failures;
    }
  }
  /* The internal helpers of mdl.c stay hidden. */
  if (dlsym(lib, "kshim_fill_pfns") != NULL) {
    printf("FAIL: kshim_fill_pfns is exported\n");
    ++failures;
  }
  dlclose(lib);
  printf("kshim exports: %d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
