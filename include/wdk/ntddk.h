/* wdk/ntddk.h - replaces <ntddk.h>: everything is in wdk/wdm.h. */
#ifndef OPENNDK_WDK_NTDDK_H
#define OPENNDK_WDK_NTDDK_H
#include <wdk/wdm.h>
#endif
