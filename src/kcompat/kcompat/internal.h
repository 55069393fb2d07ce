// Internals shared by the files of libopenndk_kcompat.
#pragma once

namespace openndk::kcompat {

// A consumer error that Windows answers with a bug check: written to stderr once per message
// text (OPENNDK_KCOMPAT_QUIET=1 silences it) and counted.
void report(const char* what);

}  // namespace openndk::kcompat
